//go:build !race

package classifier_test

// raceBuild is true in the race detector's build. See gtSeeds.
const raceBuild = false
