//go:build !race

package quality

// raceBuild is true in the race detector's build: TestGroundTruth then measures one seed.
const raceBuild = false
