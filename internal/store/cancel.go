package store

import "time"

// RequestCancel applies a cancel to j as Jobs.CancelJob describes it, for
// the backends; it reports whether j changed (a finished job does not).
func RequestCancel(j *Job, code, reason string, now time.Time) bool {
	switch j.State {
	case JobQueued:
		j.State, j.Finished = JobCanceled, now
		j.ErrorCode, j.Error = code, reason
		if code == "" {
			j.ErrorCode = "canceled"
		}
		if reason == "" {
			j.Error = "canceled before it started"
		}
	case JobRunning:
		j.CancelRequested, j.CancelCode, j.CancelReason = true, code, reason
	default:
		return false
	}
	return true
}

// CanceledResult is the error code and message of a job that a requested
// cancel ended: the cancel's code and reason ("canceled" for a plain
// cancel), and how it ended when detail is not "".
func (j Job) CanceledResult(detail string) (code, msg string) {
	code, msg = j.CancelCode, j.CancelReason
	if code == "" {
		code = "canceled"
	}
	if msg == "" {
		msg = "canceled"
	}
	if detail != "" {
		msg += "; " + detail
	}
	return code, msg
}
