//go:build tools

// Package compose pins Docker Compose v2 as a dependency so that
// scripts/compose-build.sh can build its CLI plugin from the Go module proxy.
package compose

import _ "github.com/docker/compose/v2/cmd"
