package enrichment

import "testing"

func BenchmarkParseAnswer(b *testing.B) {
	content := answer(nil)
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		if _, err := ParseAnswer(content); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildPrompt(b *testing.B) {
	in := sampleInput()
	for b.Loop() {
		BuildPrompt(in)
	}
}

func BenchmarkRuleName(b *testing.B) {
	in := profiles()[0].in
	for b.Loop() {
		RuleName(in)
	}
}

func BenchmarkAvatar(b *testing.B) {
	for b.Loop() {
		Avatar("persona-1", TypeDealSeeker)
	}
}
