package config

import (
	"testing"

	"github.com/rackwatch/rackwatch/edge/configfile/configfiletest"
)

// FuzzLoad loads arbitrary files as the edge's configuration (see
// configfiletest.FuzzLoad for what is checked). The seed corpus holds the
// shipped example and the error cases of the unit tests.
func FuzzLoad(f *testing.F) {
	configfiletest.FuzzLoad(f, "edge.yaml", "../../deploy/config/edge.yaml", Load, minimal)
}
