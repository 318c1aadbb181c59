// Package config reads the service's configuration from the environment.
//
// Every variable has a working local default so that `personas all` runs on a developer machine
// with nothing set. A value that does not parse fails start-up with an error naming the variable.
// In production (PERSONAS_ENV=production) the secrets have no defaults: the process refuses to
// start without them. In development, missing secrets are created once in a 0600 key file.
package config
