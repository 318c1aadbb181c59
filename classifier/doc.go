// Package classifier turns visitors' running aggregates into personas: feature vectors, robust
// scaling, clustering (k-means++ with several starts, mini-batch k-means on a reservoir sample
// for large projects, a diagonal Gaussian mixture for soft assignment and outliers), the choice
// of k by silhouette under a minimum cluster size (k-anonymity), matching of new clusters to the
// previous version's personas, assignment of one visitor with a confidence, and the versioned
// binary model format.
//
// It is pure computation: no I/O, no logging, no global state. Matrices are []float64 laid out
// row-major with a stride of d columns, so hot loops walk memory in order and allocate nothing
// per row; assignment steps run one worker per core over fixed-size row chunks whose partial sums
// are reduced in chunk order, which makes results independent of the number of cores.
//
// A model holds aggregates only (centroids, variances, sizes and per-persona shares of at least
// MinClusterSize visitors), never a visitor's data.
package classifier
