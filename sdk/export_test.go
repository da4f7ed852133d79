package sdk

import "time"

// SetSolvePoll changes how often a waiting solve asks for its job, for the
// tests; it returns a function that restores it.
func SetSolvePoll(d time.Duration) (restore func()) {
	old := solvePoll
	solvePoll = d
	return func() { solvePoll = old }
}
