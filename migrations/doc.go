// Package migrations embeds the SQL migrations of the data database (data/) and of the key store
// (keystore/). They are applied by `personas migrate` and checked at start-up. Migrations are
// append-only once merged: a change to the schema is a new file.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed data/*.sql keystore/*.sql
var files embed.FS

// Data returns the migrations of the data database, rooted so goose finds them.
func Data() fs.FS { return mustSub("data") }

// Keystore returns the migrations of the key store database.
func Keystore() fs.FS { return mustSub("keystore") }

func mustSub(dir string) fs.FS {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the folder is embedded at build time; failure is a build defect
	}
	return sub
}
