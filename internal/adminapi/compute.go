package adminapi

import "time"

// Compute: solvers, jobs, workers and usage (docs/compute.md).
//
//	GET    /admin/v1/products/{id}/solvers          reply []Solver
//	PUT    /admin/v1/products/{id}/solvers/{name}   body Solver; reply Solver
//	DELETE /admin/v1/products/{id}/solvers/{name}
//	GET    /admin/v1/jobs?org=&state=&limit=        reply []Job, newest first
//	GET    /admin/v1/jobs/{id}                      reply Job
//	GET    /admin/v1/jobs/{id}/logs                 reply JobLogs
//	POST   /admin/v1/jobs/{id}/cancel               reply Job
//	GET    /admin/v1/workers                        reply []WorkerInfo (connected to this iscd)
//	POST   /admin/v1/workers/tokens                 body CreateWorkerToken; reply NewToken
//	GET    /admin/v1/workers/tokens                 reply []Token
//	DELETE /admin/v1/workers/tokens/{id}            revoke; its workers are disconnected
//	GET    /admin/v1/usage?org=&from=&to=           reply Usage (RFC 3339 times; default: the last 30 days)
type (
	// Solver is a product's solver as the admin API takes it, its time
	// limit in seconds.
	Solver struct {
		ProductID        string   `json:"productId"`
		Name             string   `json:"name"`
		Kind             string   `json:"kind"` // command or plugin; the worker's configuration says what runs
		Outputs          []string `json:"outputs,omitempty"`
		Progress         string   `json:"progress,omitempty"`
		TimeLimitSeconds int64    `json:"timeLimitSeconds,omitempty"`
		MaxOutput        int64    `json:"maxOutput,omitempty"`
		MaxAttempts      int      `json:"maxAttempts,omitempty"`
	}
	// WorkerInfo describes a connected worker.
	WorkerInfo struct {
		ID        string    `json:"id"` // its token's id "/" its name
		Name      string    `json:"name"`
		Solvers   []string  `json:"solvers"`
		Capacity  int       `json:"capacity"`
		Running   []string  `json:"running"` // job ids
		Version   string    `json:"version,omitempty"`
		Remote    string    `json:"remote"`
		Connected time.Time `json:"connected"`
	}
	// CreateWorkerToken is the body of POST /admin/v1/workers/tokens.
	CreateWorkerToken struct {
		Name string `json:"name,omitempty"`
	}
	// JobLogs answers GET /admin/v1/jobs/{id}/logs: the solver's last
	// output lines (of a running job: as they arrive).
	JobLogs struct {
		ID    string `json:"id"`
		State string `json:"state"`
		// Percent is how far a running job is, as its worker last said
		// (the SolutionProgress its program got); none before the solver
		// says, or once it ended.
		Percent *float64 `json:"percent,omitempty"`
		Lines   []string `json:"lines"`
	}
	// Usage answers GET /admin/v1/usage: solver time per record, in the
	// shape of the marketplace's usage push, and totals per licence.
	Usage struct {
		OrgID   string             `json:"orgId"`
		From    time.Time          `json:"from"`
		To      time.Time          `json:"to"`
		Records []UsageRecord      `json:"usage_records"`
		Totals  map[string]float64 `json:"totals"` // solver seconds by licence id ("" for none)
		Raw     []Metered          `json:"raw"`
	}
	// UsageRecord is one record of a marketplace usage push
	// (../shared/reference/marketplace-interface.md): times as
	// yyyyMMdd'T'HHmmss'Z', usage_value in solver hours (4 decimals).
	UsageRecord struct {
		InstanceID string  `json:"instance_id"` // the licence id
		RecordTime string  `json:"record_time"`
		BeginTime  string  `json:"begin_time"`
		EndTime    string  `json:"end_time"`
		UsageValue float64 `json:"usage_value"`
		MeteringSN string  `json:"metering_sn"`
	}
)
