// Package receipt builds, signs, verifies and re-signs deletion receipts: the signed proof that
// a deletion ran and what it removed, served at GET …/deletions/{did}/receipt and checked
// offline by `personas admin verify-receipt`.
//
// A receipt holds no personal data: a visitor appears only as its blinded hash. Its JSON is
// signed byte for byte (Ed25519, privacy.Signer), so its format is a contract: a receipt signed
// by an older binary must still verify (testdata holds such receipts).
package receipt
