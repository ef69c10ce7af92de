//go:build linux && !race

package reliability_test

const raceEnabled = false
