//go:build unix && race

package security

const raceEnabled = true
