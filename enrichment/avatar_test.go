package enrichment

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
)

// svgSummary parses an SVG document and returns its root name and namespace, its title, and the
// number of elements; it fails the test on malformed XML.
func svgSummary(t *testing.T, doc string) (root xml.Name, title string, elements int) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	var inTitle bool
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("avatar is not well-formed XML: %v\n%s", err, doc)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if elements > 0 {
					t.Fatalf("avatar has more than one root element")
				}
				root = el.Name
			}
			depth++
			elements++
			inTitle = el.Name.Local == "title"
		case xml.EndElement:
			depth--
			inTitle = false
		case xml.CharData:
			if inTitle {
				title += string(el)
			}
		}
	}
	return root, title, elements
}

func TestAvatar(t *testing.T) {
	t.Parallel()
	for _, typ := range append(Types(), "unknown<&>") {
		t.Run(typ, func(t *testing.T) {
			doc := Avatar("persona-1", typ)
			root, title, n := svgSummary(t, doc)
			if root.Space != "http://www.w3.org/2000/svg" || root.Local != "svg" {
				t.Errorf("root = %v, want an svg element in the SVG namespace", root)
			}
			if !strings.HasPrefix(title, "Avatar of a ") {
				t.Errorf("title = %q, want a description", title)
			}
			if n < 10 {
				t.Errorf("avatar has %d elements, want a drawn figure", n)
			}
			if strings.Contains(doc, "http://") && strings.Count(doc, "http://") != 1 || strings.Contains(doc, "https://") || strings.Contains(doc, "<script") {
				t.Errorf("avatar refers to something outside itself:\n%s", doc)
			}
			if Avatar("persona-1", typ) != doc {
				t.Error("the same seed and type drew two avatars")
			}
		})
	}
}

func TestAvatarVaries(t *testing.T) {
	t.Parallel()
	idPattern := regexp.MustCompile(`aria-labelledby="(pa[0-9a-f]+)-t"`)
	tests := []struct {
		name      string
		avatar    func(i int) string
		minUnique int
	}{
		{"across seeds", func(i int) string { return Avatar(fmt.Sprintf("persona-%d", i), TypeBuyer) }, 100},
		{"across types", func(i int) string { return Avatar("persona-1", Types()[i%len(Types())]) }, len(Types())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for i := range 100 {
				seen[tt.avatar(i)] = true
			}
			if len(seen) < tt.minUnique {
				t.Errorf("%d distinct avatars, want at least %d", len(seen), tt.minUnique)
			}
		})
	}
	// The parts themselves vary, not only the ids: strip the ids and count again.
	looks := map[string]bool{}
	for i := range 100 {
		doc := Avatar(fmt.Sprintf("persona-%d", i), TypeLoyal)
		m := idPattern.FindStringSubmatch(doc)
		if m == nil {
			t.Fatalf("no id in %s", doc)
		}
		looks[strings.ReplaceAll(doc, m[1], "")] = true
	}
	if len(looks) < 90 {
		t.Errorf("%d distinct looks among 100 seeds, want at least 90", len(looks))
	}
}
