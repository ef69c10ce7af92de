//go:build linux && race

package reliability_test

const raceEnabled = true
