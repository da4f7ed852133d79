package sdk

import (
	"slices"
	"time"
)

// SetStatClock gives the stat cache another clock and racy window, for
// the tests: a short window lets a test wait until its writes are old
// enough to be trusted, a clock set back plays a clock jump.
func (c *Client) SetStatClock(now func() time.Time, window time.Duration) {
	c.stat.now, c.stat.window = now, window
}

// SetStatBounds gives the stat cache other bounds (0: the defaults) and
// sweep interval (< 0: a sweep at every save or open), for the tests.
func (c *Client) SetStatBounds(roots int, bytes int64, every time.Duration) {
	c.stat.maxRoots, c.stat.maxBytes, c.stat.every = roots, bytes, every
}

// StatCacheFiles returns the files the stat cache holds for root, by
// their path in the manifest; none when it holds no snapshot it trusts.
func (c *Client) StatCacheFiles(root string) []string {
	var paths []string
	for p := range c.stat.load(root).Files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// RacyWindowOf is the racy window the stat cache uses for files on path's
// file system.
func RacyWindowOf(path string) time.Duration { return racyWindowOf(path) }
