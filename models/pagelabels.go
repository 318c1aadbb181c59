package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"personas/privacy"
)

// Bounds of a project's page-label table.
const (
	MaxPageLabels       = 100 // rows per project
	MaxPageLabelLen     = 40  // characters of a label
	MaxPageLabelPathLen = 200 // characters of a path group
)

// PageLabel is a project's own name for one path group, such as "/p/:id" → "Product pages".
type PageLabel struct {
	PathGroup string `json:"path_group"`
	Label     string `json:"label"`
}

// PageLabels maps path groups to labels; Label falls back to DefaultPageLabel.
type PageLabels map[string]string

// Label names a path group: the project's label, else the default.
func (l PageLabels) Label(group string) string {
	if s, ok := l[strings.TrimSpace(group)]; ok && s != "" {
		return s
	}
	return DefaultPageLabel(group)
}

// defaultPageKinds are the common kinds of page, recognised by a path group's first fixed
// segment, in the order they are tried.
func defaultPageKinds() []struct {
	label string
	words []string
} {
	return []struct {
		label string
		words []string
	}{
		{"Product pages", []string{"p", "product", "products", "item", "items", "dp", "sku"}},
		{"Category pages", []string{"c", "category", "categories", "collection", "collections", "shop", "catalog", "catalogue", "department"}},
		{"Cart", []string{"cart", "basket", "bag"}},
		{"Checkout", []string{"checkout", "payment", "pay", "order-confirmation", "thank-you", "thanks"}},
		{"Blog and articles", []string{"blog", "blogs", "article", "articles", "news", "post", "posts", "stories", "magazine"}},
		{"Help pages", []string{"help", "support", "faq", "faqs", "contact", "kb"}},
		{"Guides and docs", []string{"docs", "documentation", "guide", "guides", "tutorials", "learn"}},
		{"Account pages", []string{"account", "accounts", "my-account", "profile", "login", "signin", "sign-in", "orders", "wishlist", "settings"}},
		{"Search results", []string{"search", "s", "results", "find"}},
		{"Offers and sales", []string{"sale", "sales", "deals", "deal", "offers", "offer", "promo", "promotions", "outlet", "coupons", "discounts"}},
		{"Pricing", []string{"pricing", "prices", "plans"}},
	}
}

// DefaultPageLabel names a path group for people when the project has not: "/" is the home
// page, "/p/:id" product pages, "/blog/:slug" the blog, and so on; an unknown group reads as
// itself.
func DefaultPageLabel(group string) string {
	g := strings.TrimSpace(group)
	if g == "/" || g == "" {
		return "Home page"
	}
	for _, seg := range strings.Split(strings.Trim(g, "/"), "/") {
		seg = strings.ToLower(seg)
		if seg == "" || strings.HasPrefix(seg, ":") || isLocale(seg) {
			continue
		}
		for _, k := range defaultPageKinds() {
			if slices.Contains(k.words, seg) {
				return k.label
			}
		}
		break // only the first fixed segment says what kind of page it is
	}
	return g
}

// isLocale recognises a leading language segment ("en", "de-ch") that says nothing of the page.
func isLocale(seg string) bool {
	if len(seg) == 2 {
		return seg[0] >= 'a' && seg[0] <= 'z' && seg[1] >= 'a' && seg[1] <= 'z' && seg != "my"
	}
	return len(seg) == 5 && seg[2] == '-' && isLocale(seg[:2])
}

// ValidatePageLabels checks a whole table as a person wrote it and returns it cleaned (trimmed,
// sorted by path group): at most MaxPageLabels rows, each path group starting with "/", at most
// MaxPageLabelPathLen characters without spaces, query or fragment, given once; each label 1 to
// MaxPageLabelLen characters of text without control characters or personal data.
func ValidatePageLabels(in []PageLabel) ([]PageLabel, error) {
	if len(in) > MaxPageLabels {
		return nil, Invalid("labels", "at most %d page labels per project, got %d", MaxPageLabels, len(in))
	}
	out := make([]PageLabel, 0, len(in))
	seen := map[string]bool{}
	for i, l := range in {
		g, label := strings.TrimSpace(l.PathGroup), strings.TrimSpace(l.Label)
		field := fmt.Sprintf("labels[%d]", i)
		switch {
		case g == "" || !strings.HasPrefix(g, "/"):
			return nil, Invalid(field+".path_group", "must be a path group starting with /, such as /p/:id")
		case !utf8.ValidString(g) || utf8.RuneCountInString(g) > MaxPageLabelPathLen:
			return nil, Invalid(field+".path_group", "at most %d characters", MaxPageLabelPathLen)
		case strings.ContainsAny(g, "?#") || strings.IndexFunc(g, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return nil, Invalid(field+".path_group", "a path group has no spaces, query or fragment")
		case seen[g]:
			return nil, Invalid(field+".path_group", "%s is labelled twice", g)
		}
		if err := validLabel(label); err != nil {
			return nil, Invalid(field+".label", "%s", err.Error())
		}
		seen[g] = true
		out = append(out, PageLabel{PathGroup: g, Label: label})
	}
	slices.SortFunc(out, func(a, b PageLabel) int { return strings.Compare(a.PathGroup, b.PathGroup) })
	return out, nil
}

func validLabel(label string) error {
	switch {
	case label == "":
		return fmt.Errorf("required")
	case !utf8.ValidString(label):
		return fmt.Errorf("not valid UTF-8")
	case utf8.RuneCountInString(label) > MaxPageLabelLen:
		return fmt.Errorf("at most %d characters", MaxPageLabelLen)
	case strings.IndexFunc(label, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
	}) >= 0:
		return fmt.Errorf("holds control characters")
	case strings.ContainsAny(label, "<>"):
		// Labels go into the LLM prompt and texts: no markup that could pass for a tag.
		return fmt.Errorf("may not contain < or >")
	case privacy.Scrub(label) != label:
		return fmt.Errorf("looks like personal data")
	}
	return nil
}

// PageLabelList returns a project's page labels, by path group.
func (s *Store) PageLabelList(ctx context.Context, projectID uuid.UUID) ([]PageLabel, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.PageLabelList */
		SELECT path_group, label FROM page_labels WHERE project_id = $1 ORDER BY path_group LIMIT $2`,
		projectID, MaxPageLabels)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PageLabel])
	if err != nil {
		return nil, fmt.Errorf("list page labels of project %s: %w", projectID, translate(err))
	}
	return out, nil
}

// PageLabels returns a project's page labels as a map, for the namer, the prompt and the
// dashboard.
func (s *Store) PageLabels(ctx context.Context, projectID uuid.UUID) (PageLabels, error) {
	list, err := s.PageLabelList(ctx, projectID)
	if err != nil {
		return nil, err
	}
	m := make(PageLabels, len(list))
	for _, l := range list {
		m[l.PathGroup] = l.Label
	}
	return m, nil
}

// SetPageLabels replaces a project's page labels with labels (validated here) in one
// transaction, and returns what was stored.
func (s *Store) SetPageLabels(ctx context.Context, projectID uuid.UUID, labels []PageLabel) ([]PageLabel, error) {
	clean, err := ValidatePageLabels(labels)
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `/* Store.SetPageLabels */ DELETE FROM page_labels WHERE project_id = $1`, projectID); err != nil {
			return err
		}
		groups, texts := make([]string, len(clean)), make([]string, len(clean))
		for i, l := range clean {
			groups[i], texts[i] = l.PathGroup, l.Label
		}
		_, err := tx.Exec(ctx, `/* Store.SetPageLabels */
			INSERT INTO page_labels (project_id, path_group, label)
			SELECT $1, g, l FROM unnest($2::text[], $3::text[]) AS t(g, l)`, projectID, groups, texts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store page labels of project %s: %w", projectID, translate(err))
	}
	return clean, nil
}
