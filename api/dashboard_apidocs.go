package api

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"personas/docs"
)

// The API reference page renders the embedded OpenAPI document on the server: every operation
// with its method, path, summary, parameters and the schemas of its request and answers, and
// the shared schemas below them. No script, nothing from elsewhere: the document the binary
// serves at /v1/openapi.yaml is the one the page shows.

// apiDocsView is the reference page's data.
type apiDocsView struct {
	Title, Version, Description string
	Tags                        []apiTagView
	Schemas                     []apiSchemaView
}

type apiTagView struct {
	Name, Description string
	Ops               []apiOpView
}

type apiOpView struct {
	ID, Method, Path, Summary, Description string
	Public                                 bool // no token or session
	Params                                 []apiFieldView
	Request                                []apiContentView
	Responses                              []apiResponseView
}

type apiResponseView struct {
	Status, Description string
	Content             []apiContentView
}

// apiContentView is one media type of a body: a named schema (a link below), or the fields of
// an inline one.
type apiContentView struct {
	MediaType string
	Schema    apiTypeView
	Fields    []apiFieldView
}

// apiFieldView is a parameter or a property.
type apiFieldView struct {
	Name, In, Description string
	Required              bool
	Type                  apiTypeView
}

// apiTypeView is a type as the page writes it: text, and the component schema it names, if any.
type apiTypeView struct {
	Text, Ref string
}

type apiSchemaView struct {
	Name, Description string
	Type              apiTypeView
	Fields            []apiFieldView
}

// buildAPIDocs reads the embedded document into the page's view, once at start-up.
func buildAPIDocs() (apiDocsView, error) {
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		return apiDocsView{}, fmt.Errorf("load docs/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return apiDocsView{}, fmt.Errorf("docs/openapi.yaml is invalid: %w", err)
	}
	v := apiDocsView{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	byTag := map[string]*apiTagView{}
	for _, t := range doc.Tags {
		v.Tags = append(v.Tags, apiTagView{Name: t.Name, Description: t.Description})
	}
	for i := range v.Tags {
		byTag[v.Tags[i].Name] = &v.Tags[i]
	}
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for _, method := range []string{"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"} {
			op := item.GetOperation(method)
			if op == nil {
				continue
			}
			ov := apiOpView{ID: op.OperationID, Method: method, Path: path, Summary: op.Summary, Description: op.Description,
				Public: op.Security != nil && len(*op.Security) == 0}
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value == nil {
					continue
				}
				ov.Params = append(ov.Params, apiFieldView{Name: p.Value.Name, In: p.Value.In, Description: p.Value.Description,
					Required: p.Value.Required, Type: typeOf(p.Value.Schema)})
			}
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				ov.Request = contents(rb.Value.Content)
			}
			statuses := make([]string, 0, op.Responses.Len())
			for st := range op.Responses.Map() {
				statuses = append(statuses, st)
			}
			sort.Strings(statuses)
			for _, st := range statuses {
				r := op.Responses.Value(st)
				if r == nil || r.Value == nil {
					continue
				}
				d := ""
				if r.Value.Description != nil {
					d = *r.Value.Description
				}
				ov.Responses = append(ov.Responses, apiResponseView{Status: st, Description: d, Content: contents(r.Value.Content)})
			}
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			tv, ok := byTag[tag]
			if !ok {
				v.Tags = append(v.Tags, apiTagView{Name: tag})
				byTag = map[string]*apiTagView{}
				for i := range v.Tags {
					byTag[v.Tags[i].Name] = &v.Tags[i]
				}
				tv = byTag[tag]
			}
			tv.Ops = append(tv.Ops, ov)
		}
	}
	for _, tv := range v.Tags {
		sort.SliceStable(tv.Ops, func(i, j int) bool { return tv.Ops[i].Path < tv.Ops[j].Path })
	}
	names := make([]string, 0, len(doc.Components.Schemas))
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := doc.Components.Schemas[n]
		sv := apiSchemaView{Name: n, Type: typeOf(&openapi3.SchemaRef{Value: s.Value}), Fields: fields(s.Value)}
		if s.Value != nil {
			sv.Description = s.Value.Description
		}
		v.Schemas = append(v.Schemas, sv)
	}
	return v, nil
}

// contents lists a body's media types, sorted.
func contents(c openapi3.Content) []apiContentView {
	types := make([]string, 0, len(c))
	for mt := range c {
		types = append(types, mt)
	}
	sort.Strings(types)
	out := make([]apiContentView, 0, len(types))
	for _, mt := range types {
		cv := apiContentView{MediaType: mt}
		if s := c[mt].Schema; s != nil {
			cv.Schema = typeOf(s)
			if s.Ref == "" {
				cv.Fields = fields(s.Value)
			}
		}
		out = append(out, cv)
	}
	return out
}

// fields are an object schema's properties, required ones first.
func fields(s *openapi3.Schema) []apiFieldView {
	if s == nil {
		return nil
	}
	var out []apiFieldView
	for _, name := range sortedKeys(s.Properties) {
		p := s.Properties[name]
		f := apiFieldView{Name: name, Type: typeOf(p)}
		for _, r := range s.Required {
			f.Required = f.Required || r == name
		}
		if p.Value != nil {
			f.Description = p.Value.Description
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Required && !out[j].Required })
	return out
}

func sortedKeys(m openapi3.Schemas) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// typeOf writes a schema's type in a few words: a component's name, array of …, a type with its
// format, enum values and nullability, the alternatives of a oneOf.
func typeOf(r *openapi3.SchemaRef) apiTypeView {
	if r == nil || r.Value == nil {
		return apiTypeView{Text: "any"}
	}
	if r.Ref != "" {
		name := r.Ref[strings.LastIndex(r.Ref, "/")+1:]
		return apiTypeView{Text: name, Ref: name}
	}
	s := r.Value
	if len(s.OneOf) > 0 {
		var parts []string
		ref := ""
		for _, o := range s.OneOf {
			t := typeOf(o)
			parts = append(parts, t.Text)
			if ref == "" {
				ref = t.Ref
			}
		}
		return apiTypeView{Text: strings.Join(parts, " | "), Ref: ref}
	}
	types := []string{}
	if s.Type != nil {
		types = append(types, s.Type.Slice()...)
	}
	nullable := false
	var base []string
	for _, t := range types {
		if t == "null" {
			nullable = true
			continue
		}
		base = append(base, t)
	}
	text := strings.Join(base, " | ")
	ref := ""
	switch {
	case text == "array" && s.Items != nil:
		it := typeOf(s.Items)
		text, ref = "array of "+it.Text, it.Ref
	case text == "object" && s.AdditionalProperties.Schema != nil:
		it := typeOf(s.AdditionalProperties.Schema)
		text, ref = "map of "+it.Text, it.Ref
	case text == "" && len(s.AllOf) > 0:
		it := typeOf(s.AllOf[0])
		text, ref = it.Text, it.Ref
	case text == "":
		text = "any"
	}
	if s.Format != "" {
		text += " (" + s.Format + ")"
	}
	if s.ContentMediaType != "" {
		text += " (" + s.ContentMediaType + ")"
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			vals[i] = fmt.Sprint(e)
		}
		text += ": " + strings.Join(vals, ", ")
	}
	if nullable {
		text += " or null"
	}
	return apiTypeView{Text: text, Ref: ref}
}

// apiDocsPage is the dashboard's API reference (public, as the document is).
func (s *Server) apiDocsPage(c *gin.Context) error {
	s.render(c, http.StatusOK, "apidocs", page{Title: "API reference", Nav: "api", Data: s.apiDocs})
	return nil
}
