package adminapi

// Department is one entry of GET /admin/v1/departments?org=ID: a node of
// an organisation's department tree, as the marketplace synced it.
type Department struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"` // "" at the top
}

// LicenseUsers is the body of PUT /admin/v1/licenses/{id}/users
// (licenses): whether the licence is for named users only, and the users
// an operator assigns it to (beside those the marketplace authorised).
// It answers the licence.
type LicenseUsers struct {
	NamedUsers bool     `json:"namedUsers"`
	Users      []string `json:"users"`
}
