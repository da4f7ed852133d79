package sdk

import "time"

// SetStatClock gives the stat cache another clock and racy window, for
// the tests: a short window lets a test wait until its writes are old
// enough to be trusted, a clock set back plays a clock jump.
func (c *Client) SetStatClock(now func() time.Time, window time.Duration) {
	c.stat.now, c.stat.window = now, window
}
