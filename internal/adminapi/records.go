package adminapi

import "time"

// The records the admin API answers with: organisations, users, tokens,
// products, licences, seats, jobs, releases and sessions, as an operator
// sees them. They are the API's own types, not the store's: a token's or
// a session's hash is not in them, so no handler has a secret to blank,
// and a client of the API imports no server package. The service
// packages map their store records to these at the edge.

// Licence kinds (License.Kind, CreateLicense.Kind).
const (
	KindFloating   = "floating"
	KindNodeLocked = "node-locked"
)

// Job states (Job.State; the state filter of GET /admin/v1/jobs).
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCanceled  = "canceled"
)

// Solver kinds (Solver.Kind).
const (
	SolverCommand = "command"
	SolverPlugin  = "plugin"
)

type (
	// Org is an organisation: a customer.
	Org struct {
		ID      string    `json:"id"`
		Name    string    `json:"name"`
		Created time.Time `json:"created"`
		// Tenant: the marketplace tenant the organisation is, if it
		// came from the marketplace (docs/identity.md).
		Tenant *Tenant `json:"tenant,omitempty"`
		Closed bool    `json:"closed,omitempty"`
	}
	// Tenant is what the marketplace's tenantSync said of an organisation.
	Tenant struct {
		TenantID   string    `json:"tenantId"`
		TenantCode string    `json:"tenantCode,omitempty"`
		DomainName string    `json:"domainName,omitempty"`
		InstanceID string    `json:"instanceId,omitempty"`
		OrderID    string    `json:"orderId,omitempty"`
		Test       bool      `json:"test,omitempty"`
		SyncedAt   time.Time `json:"syncedAt,omitzero"`
	}
	// User is a person (or a service account) of an organisation. The
	// fields after Created are the marketplace's (empty for users an
	// operator made).
	User struct {
		ID           string    `json:"id"`
		OrgID        string    `json:"orgId"`
		Name         string    `json:"name"`
		Email        string    `json:"email,omitempty"`
		Created      time.Time `json:"created"`
		UserName     string    `json:"userName,omitempty"`
		Role         string    `json:"role,omitempty"`
		Department   string    `json:"department,omitempty"`
		EmployeeCode string    `json:"employeeCode,omitempty"`
		Mobile       string    `json:"mobile,omitempty"`
		Disabled     bool      `json:"disabled,omitempty"`
		Authorised   bool      `json:"authorised,omitempty"`
		Deleted      bool      `json:"deleted,omitempty"`
		Updated      time.Time `json:"updated,omitzero"`
		SyncedAt     time.Time `json:"syncedAt,omitzero"`
	}
	// Token is an API or worker token: never its secret, nor its hash.
	Token struct {
		ID      string    `json:"id"`
		Kind    string    `json:"kind"` // isk (API) or isw (worker)
		UserID  string    `json:"userId,omitempty"`
		OrgID   string    `json:"orgId,omitempty"`
		Name    string    `json:"name,omitempty"`
		Created time.Time `json:"created"`
		Revoked bool      `json:"revoked,omitempty"`
		Expires time.Time `json:"expires,omitzero"` // zero: never
	}
	// Product is a program a vendor sells.
	Product struct {
		ID      string    `json:"id"`
		Name    string    `json:"name"`
		Created time.Time `json:"created"`
		// RequireLicense: what needs an active licence of the product
		// (docs/licensing.md); nil: undecided.
		RequireLicense *LicenseGates `json:"requireLicense,omitempty"`
	}
	// LicenseGates says what needs an active licence of a product.
	LicenseGates struct {
		Compute bool `json:"compute"` // submitting solves
		Files   bool `json:"files"`   // saving, opening, listing and locking cloud files
	}
	// Session is one entry of GET /admin/v1/sessions: a session that is
	// connected or may still resume.
	Session struct {
		ID         string    `json:"id"`
		OrgID      string    `json:"orgId"`
		UserID     string    `json:"userId"`
		ProductID  string    `json:"productId"`
		AppVersion string    `json:"appVersion,omitempty"`
		Device     string    `json:"device,omitempty"`
		Created    time.Time `json:"created"`
		LastSeen   time.Time `json:"lastSeen"`
		Connected  bool      `json:"connected"`
	}
)

// Licences.
type (
	// License is an organisation's licence of a product.
	License struct {
		ID          string    `json:"id"`
		OrgID       string    `json:"orgId"`
		ProductID   string    `json:"productId"`
		Edition     string    `json:"edition,omitempty"`
		Features    []string  `json:"features,omitempty"`
		Kind        string    `json:"kind"` // KindFloating or KindNodeLocked
		Seats       int       `json:"seats"`
		EffectiveAt time.Time `json:"effectiveAt"`
		ExpiresAt   time.Time `json:"expiresAt"` // zero: perpetual
		Status      string    `json:"status"`
		Trial       bool      `json:"trial,omitempty"`
		Created     time.Time `json:"created"`
		Updated     time.Time `json:"updated"`
		NamedUsers  bool      `json:"namedUsers,omitempty"`
		Users       []string  `json:"users,omitempty"` // user ids an operator assigned
		// The marketplace's, for a licence it ordered.
		InstanceID  string `json:"instanceId,omitempty"`
		OrderID     string `json:"orderId,omitempty"`
		OrderLineID string `json:"orderLineId,omitempty"`
		LicenseCode string `json:"licenseCode,omitempty"`
		// GraceSeconds: usable this long after ExpiresAt.
		GraceSeconds int64 `json:"graceSeconds"`
		// OfflineGraceSeconds: a lease stays usable this long after it
		// lapses while iscd is unreachable.
		OfflineGraceSeconds int64 `json:"offlineGraceSeconds"`
	}
	// Seat is a floating lease held by a session, or a node-locked device
	// binding (SessionID empty, LeaseExpires zero: it does not lapse).
	Seat struct {
		ID           string    `json:"id"`
		LicenseID    string    `json:"licenseId"`
		SessionID    string    `json:"sessionId,omitempty"`
		UserID       string    `json:"userId,omitempty"`
		Device       string    `json:"device,omitempty"` // the fingerprint as sent
		Acquired     time.Time `json:"acquired"`
		Renewed      time.Time `json:"renewed"`
		LeaseExpires time.Time `json:"leaseExpires,omitzero"`
	}
	// AuditEntry is one line of a licence's audit log.
	AuditEntry struct {
		Time      time.Time `json:"time"`
		LicenseID string    `json:"licenseId,omitempty"`
		OrgID     string    `json:"orgId,omitempty"`
		SessionID string    `json:"sessionId,omitempty"`
		UserID    string    `json:"userId,omitempty"`
		Event     string    `json:"event"`
		Detail    string    `json:"detail,omitempty"`
	}
	// AuditLog is a page of the audit log across licences, as GET
	// /admin/v1/audit answers it: its entries newest first, and Next, the
	// cursor of the following page ("" after the last).
	AuditLog struct {
		Entries []AuditEntry `json:"entries"`
		Next    string       `json:"next,omitempty"`
	}
)

// Audit log pages: DefaultAuditLimit entries unless ?limit= asks for
// others, at most MaxAuditLimit.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// Compute.
type (
	// Job is a solve, as GET /admin/v1/jobs answers it.
	Job struct {
		ID              string        `json:"id"`
		OrgID           string        `json:"orgId"`
		UserID          string        `json:"userId"`
		SessionID       string        `json:"sessionId"`
		ProductID       string        `json:"productId"`
		LicenseID       string        `json:"licenseId,omitempty"`
		Solver          JobSolver     `json:"solver"`
		Main            string        `json:"main"`
		Args            []string      `json:"args,omitempty"`
		Cores           int           `json:"cores"`
		TimeLimit       time.Duration `json:"timeLimit"`
		InputHash       string        `json:"inputHash"` // of the inputs manifest's content
		InputSize       int64         `json:"inputSize"`
		State           string        `json:"state"` // JobQueued, ...
		Attempts        []JobAttempt  `json:"attempts,omitempty"`
		LeaseExpires    time.Time     `json:"leaseExpires,omitzero"`
		CancelRequested bool          `json:"cancelRequested,omitempty"`
		CancelCode      string        `json:"cancelCode,omitempty"`
		CancelReason    string        `json:"cancelReason,omitempty"`
		Created         time.Time     `json:"created"`
		Finished        time.Time     `json:"finished,omitzero"`
		JobResult
	}
	// JobSolver is the solver a job was given, as it was when submitted
	// (its time limit a Go duration, nanoseconds in JSON).
	JobSolver struct {
		ProductID   string        `json:"productId"`
		Name        string        `json:"name"`
		Kind        string        `json:"kind"`
		Outputs     []string      `json:"outputs,omitempty"`
		Progress    string        `json:"progress,omitempty"`
		TimeLimit   time.Duration `json:"timeLimit"`
		MaxOutput   int64         `json:"maxOutput"`
		MaxAttempts int           `json:"maxAttempts"`
	}
	// JobAttempt is one run of a job on a worker.
	JobAttempt struct {
		Worker  string    `json:"worker"`
		Started time.Time `json:"started"`
		Ended   time.Time `json:"ended,omitzero"`
		Outcome string    `json:"outcome,omitempty"` // a final state, or "lost"
	}
	// JobResult is how a finished job ended.
	JobResult struct {
		ExitCode    int      `json:"exitCode"`
		ErrorCode   string   `json:"errorCode,omitempty"`
		Error       string   `json:"error,omitempty"`
		LogTail     []string `json:"logTail,omitempty"`
		WallSeconds float64  `json:"wallSeconds,omitempty"`
		CPUSeconds  float64  `json:"cpuSeconds,omitempty"`
		OutputHash  string   `json:"outputHash,omitempty"`
		OutputSize  int64    `json:"outputSize,omitempty"`
		OutputFiles int      `json:"outputFiles,omitempty"`
	}
	// Metered is one attempt's solver time, as iscd records it (Usage.Raw).
	Metered struct {
		SN            string    `json:"meteringSn"` // job id "-" attempt
		OrgID         string    `json:"orgId"`
		LicenseID     string    `json:"licenseId,omitempty"`
		ProductID     string    `json:"productId"`
		UserID        string    `json:"userId"`
		JobID         string    `json:"jobId"`
		Solver        string    `json:"solver"`
		Begin         time.Time `json:"beginTime"`
		End           time.Time `json:"endTime"`
		SolverSeconds float64   `json:"solverSeconds"`
		CPUSeconds    float64   `json:"cpuSeconds"`
	}
)

// Attempt is the number of the current (or last) attempt; 0 before the first.
func (j Job) Attempt() int { return len(j.Attempts) }

// Worker is the worker holding (or last holding) the job.
func (j Job) Worker() string {
	if len(j.Attempts) == 0 {
		return ""
	}
	return j.Attempts[len(j.Attempts)-1].Worker
}

// Release is a published package of a product for one platform
// (docs/upgrades.md).
type Release struct {
	ProductID      string    `json:"productId"`
	Platform       string    `json:"platform"` // GOOS-GOARCH
	Version        string    `json:"version"`
	Notes          string    `json:"notes,omitempty"`
	Forced         bool      `json:"forced,omitempty"`
	MinSupported   string    `json:"minSupported,omitempty"`
	FileName       string    `json:"fileName"`
	Size           int64     `json:"size"`
	SHA256         string    `json:"sha256"` // of the package, lower-case hex
	InstallCommand string    `json:"installCommand"`
	KeyID          string    `json:"keyId"`
	Signature      string    `json:"signature"`
	Published      time.Time `json:"published"`
	PublishedBy    string    `json:"publishedBy,omitempty"`
}

// Done reports whether the job reached a final state.
func (j Job) Done() bool {
	return j.State == JobSucceeded || j.State == JobFailed || j.State == JobCanceled
}
