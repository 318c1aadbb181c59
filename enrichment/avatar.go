package enrichment

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Palettes of the avatars: soft backgrounds, clothes, skin tones and hair colours that go
// together whatever the draw.
func avatarPalettes() (backgrounds [][2]string, shirts, skins, hairs []string) {
	backgrounds = [][2]string{
		{"#DCEBFF", "#C4DCFB"}, {"#FFE8D6", "#FBD3B4"}, {"#E3F6E8", "#C7ECD2"}, {"#F3E5FF", "#E2CBFA"},
		{"#FFF4CC", "#FBE59A"}, {"#FFE0E6", "#FBC4CF"}, {"#DDF4F6", "#B9E6EA"}, {"#ECEFF4", "#D6DCE6"},
	}
	shirts = []string{"#3B82F6", "#10B981", "#F59E0B", "#EF4444", "#8B5CF6", "#EC4899", "#14B8A6", "#6366F1", "#F97316", "#0EA5E9"}
	skins = []string{"#FFDBB4", "#F1C27D", "#E0AC69", "#C68642", "#8D5524", "#5C3A21"}
	hairs = []string{"#2C1B10", "#4A2F1B", "#8B5A2B", "#D6A756", "#B5651D", "#1F1F1F", "#9CA3AF", "#7C2D12"}
	return
}

// Avatar draws a persona's picture: a standalone SVG document of a friendly figure made of simple
// shapes (head, hair, eyes, mouth, shoulders) on a patterned round background, with an accessory
// that shows the persona type. Every choice comes from a hash of the seed and the type, so the
// same persona always gets the same picture and no external service is involved.
func Avatar(seed, personaType string) string {
	if !ValidType(personaType) {
		personaType = TypeOther
	}
	h := sha256.Sum256([]byte("avatar\x00" + seed + "\x00" + personaType))
	pick := func(i, n int) int { return int(h[i]) % n }
	id := "pa" + hex.EncodeToString(h[24:30]) // unique ids, so that many avatars can share a page

	backgrounds, shirts, skins, hairs := avatarPalettes()
	bg := backgrounds[pick(0, len(backgrounds))]
	shirt := shirts[pick(1, len(shirts))]
	skin := skins[pick(2, len(skins))]
	hair := hairs[pick(3, len(hairs))]
	ink := "#2B2B3A"

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128" width="128" height="128" role="img" aria-labelledby="%s-t">`, id)
	fmt.Fprintf(&b, `<title id="%s-t">Avatar of a %s persona</title>`, id, typeLabel(personaType))
	fmt.Fprintf(&b, `<defs><clipPath id="%s-c"><circle cx="64" cy="64" r="64"/></clipPath></defs>`, id)
	fmt.Fprintf(&b, `<g clip-path="url(#%s-c)">`, id)
	fmt.Fprintf(&b, `<rect width="128" height="128" fill="%s"/>`, bg[0])
	writePattern(&b, pick(4, 5), bg[1], int(h[5]))

	hairStyle := pick(6, 7)
	if hairStyle == 2 { // long hair falls behind the shoulders
		fmt.Fprintf(&b, `<path d="M36 58 C34 90 38 104 44 112 L84 112 C90 104 94 90 92 58 Z" fill="%s"/>`, hair)
	}
	// Shoulders and neckline.
	fmt.Fprintf(&b, `<path d="M20 128 C20 100 40 88 64 88 C88 88 108 100 108 128 Z" fill="%s"/>`, shirt)
	fmt.Fprintf(&b, `<rect x="56" y="74" width="16" height="18" rx="6" fill="%s"/>`, skin)
	switch pick(7, 3) {
	case 0:
		fmt.Fprintf(&b, `<path d="M54 89 L64 102 L74 89" fill="none" stroke="%s" stroke-width="3" stroke-linejoin="round" opacity="0.35"/>`, ink)
	case 1:
		b.WriteString(`<path d="M50 90 L58 100 L64 92 L70 100 L78 90" fill="#FFFFFF" opacity="0.85"/>`)
	default:
		fmt.Fprintf(&b, `<path d="M54 89 Q64 97 74 89" fill="none" stroke="%s" stroke-width="3" stroke-linecap="round" opacity="0.3"/>`, ink)
	}
	// Ears and head.
	fmt.Fprintf(&b, `<circle cx="40" cy="58" r="6" fill="%s"/><circle cx="88" cy="58" r="6" fill="%s"/>`, skin, skin)
	if pick(8, 2) == 0 {
		fmt.Fprintf(&b, `<circle cx="64" cy="56" r="24" fill="%s"/>`, skin)
	} else {
		fmt.Fprintf(&b, `<ellipse cx="64" cy="56" rx="23" ry="26" fill="%s"/>`, skin)
	}
	writeHair(&b, hairStyle, hair)
	writeFace(&b, pick(9, 4), pick(10, 4), pick(11, 3) == 0, ink)
	writeAccessory(&b, personaType, pick(12, len(shirts)), ink)
	b.WriteString(`</g></svg>`)
	return b.String()
}

func typeLabel(t string) string { return strings.ReplaceAll(t, "_", " ") }

// writePattern draws a light background motif.
func writePattern(b *strings.Builder, kind int, color string, rot int) {
	switch kind {
	case 0: // dots
		fmt.Fprintf(b, `<g fill="%s">`, color)
		for y := 10; y < 128; y += 22 {
			for x := 10 + (y/22%2)*11; x < 128; x += 22 {
				fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="3"/>`, x, y)
			}
		}
		b.WriteString(`</g>`)
	case 1: // rings
		fmt.Fprintf(b, `<g fill="none" stroke="%s" stroke-width="6">`, color)
		for r := 20; r < 100; r += 18 {
			fmt.Fprintf(b, `<circle cx="64" cy="64" r="%d"/>`, r)
		}
		b.WriteString(`</g>`)
	case 2: // stripes
		fmt.Fprintf(b, `<g stroke="%s" stroke-width="8" transform="rotate(%d 64 64)">`, color, rot%90-45)
		for x := -64; x < 192; x += 24 {
			fmt.Fprintf(b, `<line x1="%d" y1="-64" x2="%d" y2="192"/>`, x, x)
		}
		b.WriteString(`</g>`)
	case 3: // hills
		fmt.Fprintf(b, `<path d="M0 96 Q32 76 64 92 T128 88 V128 H0 Z" fill="%s"/>`, color)
	default: // sun
		fmt.Fprintf(b, `<circle cx="%d" cy="26" r="18" fill="%s"/>`, 24+rot%80, color)
	}
}

// writeHair draws one of seven styles over the head (style 2's long part is drawn earlier).
func writeHair(b *strings.Builder, style int, color string) {
	switch style {
	case 0: // short crop
		fmt.Fprintf(b, `<path d="M40 54 C40 30 88 30 88 54 C84 42 76 38 64 38 C52 38 44 42 40 54 Z" fill="%s"/>`, color)
	case 1: // side parting
		fmt.Fprintf(b, `<path d="M39 56 C36 30 70 24 86 36 C90 40 90 48 89 56 C84 44 74 40 58 42 C50 44 44 48 39 56 Z" fill="%s"/>`, color)
	case 2: // long
		fmt.Fprintf(b, `<path d="M38 60 C36 30 92 30 90 60 C86 44 78 38 64 38 C50 38 42 44 38 60 Z" fill="%s"/>`, color)
	case 3: // bun
		fmt.Fprintf(b, `<circle cx="64" cy="28" r="10" fill="%s"/><path d="M40 54 C40 30 88 30 88 54 C84 42 76 38 64 38 C52 38 44 42 40 54 Z" fill="%s"/>`, color, color)
	case 4: // curls
		fmt.Fprintf(b, `<g fill="%s">`, color)
		for _, c := range [][2]int{{42, 48}, {48, 38}, {58, 33}, {70, 33}, {80, 38}, {86, 48}} {
			fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="9"/>`, c[0], c[1])
		}
		b.WriteString(`</g>`)
	case 5: // spiky
		fmt.Fprintf(b, `<path d="M40 52 L44 34 L52 42 L58 28 L64 40 L72 28 L76 42 L84 34 L88 52 C82 42 74 40 64 40 C54 40 46 42 40 52 Z" fill="%s"/>`, color)
	default: // cap of short hair only at the sides: a bald or shaved look
		fmt.Fprintf(b, `<path d="M40 60 C40 52 42 48 44 46 L44 60 Z M88 60 C88 52 86 48 84 46 L84 60 Z" fill="%s"/>`, color)
	}
}

// writeFace draws eyes, mouth and optionally cheeks, always friendly.
func writeFace(b *strings.Builder, eyes, mouth int, cheeks bool, ink string) {
	switch eyes {
	case 0: // dots
		fmt.Fprintf(b, `<circle cx="55" cy="58" r="3" fill="%s"/><circle cx="73" cy="58" r="3" fill="%s"/>`, ink, ink)
	case 1: // happy arcs
		fmt.Fprintf(b, `<path d="M51 59 Q55 54 59 59 M69 59 Q73 54 77 59" fill="none" stroke="%s" stroke-width="2.5" stroke-linecap="round"/>`, ink)
	case 2: // open eyes with pupils
		fmt.Fprintf(b, `<circle cx="55" cy="58" r="4.5" fill="#FFFFFF"/><circle cx="73" cy="58" r="4.5" fill="#FFFFFF"/><circle cx="56" cy="59" r="2.2" fill="%s"/><circle cx="74" cy="59" r="2.2" fill="%s"/>`, ink, ink)
	default: // dots under brows
		fmt.Fprintf(b, `<circle cx="55" cy="59" r="2.6" fill="%s"/><circle cx="73" cy="59" r="2.6" fill="%s"/><path d="M50 51 L59 50 M69 50 L78 51" stroke="%s" stroke-width="2" stroke-linecap="round"/>`, ink, ink, ink)
	}
	switch mouth {
	case 0: // smile
		fmt.Fprintf(b, `<path d="M56 68 Q64 75 72 68" fill="none" stroke="%s" stroke-width="2.5" stroke-linecap="round"/>`, ink)
	case 1: // open smile
		fmt.Fprintf(b, `<path d="M55 67 Q64 79 73 67 Z" fill="%s"/><path d="M59 71 Q64 74 69 71" fill="none" stroke="#F28B82" stroke-width="2" stroke-linecap="round"/>`, ink)
	case 2: // soft smile
		fmt.Fprintf(b, `<path d="M59 69 Q64 72 69 69" fill="none" stroke="%s" stroke-width="2.5" stroke-linecap="round"/>`, ink)
	default: // grin
		fmt.Fprintf(b, `<path d="M54 67 Q64 76 74 67" fill="#FFFFFF" stroke="%s" stroke-width="2" stroke-linejoin="round"/>`, ink)
	}
	if cheeks {
		b.WriteString(`<circle cx="49" cy="66" r="4" fill="#F28B82" opacity="0.35"/><circle cx="79" cy="66" r="4" fill="#F28B82" opacity="0.35"/>`)
	}
}

// writeAccessory draws the symbol of the persona type.
func writeAccessory(b *strings.Builder, t string, colorIndex int, ink string) {
	_, shirts, _, _ := avatarPalettes()
	accent := shirts[(colorIndex+3)%len(shirts)]
	switch t {
	case TypeResearcher: // glasses and a book
		fmt.Fprintf(b, `<g fill="none" stroke="%s" stroke-width="2.5"><circle cx="55" cy="58" r="7"/><circle cx="73" cy="58" r="7"/><path d="M62 58 H66 M48 57 L41 55 M80 57 L87 55"/></g>`, ink)
		fmt.Fprintf(b, `<g transform="translate(86 96)"><rect width="26" height="20" rx="2" fill="%s"/><path d="M13 2 V18" stroke="#FFFFFF" stroke-width="2"/><path d="M4 6 H10 M4 10 H10 M16 6 H22 M16 10 H22" stroke="#FFFFFF" stroke-width="1.5"/></g>`, accent)
	case TypeBuyer: // shopping bag
		fmt.Fprintf(b, `<g transform="translate(86 92)"><path d="M6 8 C6 0 18 0 18 8" fill="none" stroke="%s" stroke-width="2.5"/><rect x="0" y="8" width="24" height="22" rx="3" fill="%s"/><circle cx="12" cy="19" r="3" fill="#FFFFFF"/></g>`, ink, accent)
	case TypeDealSeeker: // price tag
		fmt.Fprintf(b, `<g transform="translate(84 92) rotate(-20)"><path d="M0 6 L10 0 H30 V20 H10 L0 14 Z" fill="%s"/><circle cx="8" cy="10" r="2.5" fill="#FFFFFF"/><text x="20" y="15" font-family="sans-serif" font-size="11" font-weight="bold" fill="#FFFFFF" text-anchor="middle">%%</text></g>`, accent)
	case TypeLoyal: // heart badge
		fmt.Fprintf(b, `<g transform="translate(80 100)"><circle cx="12" cy="12" r="13" fill="#FFFFFF"/><path d="M12 20 C2 13 3 5 8 5 C10 5 11.5 6.5 12 8 C12.5 6.5 14 5 16 5 C21 5 22 13 12 20 Z" fill="%s"/></g>`, "#EF4444")
	case TypeSupportSeeker: // headset
		fmt.Fprintf(b, `<g fill="none" stroke="%s" stroke-width="3"><path d="M38 58 C38 26 90 26 90 58"/></g><rect x="34" y="52" width="8" height="14" rx="3" fill="%s"/><rect x="86" y="52" width="8" height="14" rx="3" fill="%s"/><path d="M38 66 C40 76 48 78 56 78" fill="none" stroke="%s" stroke-width="2"/><circle cx="57" cy="78" r="2.5" fill="%s"/>`, ink, accent, accent, ink, ink)
	case TypeExplorer: // compass
		fmt.Fprintf(b, `<g transform="translate(84 96)"><circle cx="12" cy="12" r="13" fill="#FFFFFF" stroke="%s" stroke-width="2"/><path d="M12 3 L15 12 L12 21 L9 12 Z" fill="%s"/><path d="M12 3 L15 12 H9 Z" fill="#EF4444"/></g>`, ink, ink)
	case TypeBrowser: // pointer
		fmt.Fprintf(b, `<g transform="translate(88 94)"><path d="M0 0 L0 22 L6 16 L10 26 L14 24 L10 14 L18 14 Z" fill="#FFFFFF" stroke="%s" stroke-width="2" stroke-linejoin="round"/></g>`, ink)
	case TypeNewcomer: // sparkles
		fmt.Fprintf(b, `<g fill="%s"><path d="M100 18 L103 27 L112 30 L103 33 L100 42 L97 33 L88 30 L97 27 Z"/><path d="M22 22 L24 27 L29 29 L24 31 L22 36 L20 31 L15 29 L20 27 Z"/></g>`, "#F59E0B")
	}
}
