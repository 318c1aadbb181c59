// Package privacy holds the computations that keep Personas private: it
// scrubs personal data out of free text and URLs, reduces referrers and user
// agents to coarse classes, seals values with AES-256-GCM under a rotating
// keyring (and per-project data keys wrapped by it), derives blind indexes
// with HMAC-SHA256, hashes passwords with argon2id and signs deletion receipts
// with Ed25519.
//
// Everything here is pure computation: no I/O, no logging, no package-level
// mutable state, so every function is safe for concurrent use and is tested
// with plain tables.
package privacy
