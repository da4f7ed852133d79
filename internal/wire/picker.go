package wire

import "time"

// Pickers (docs/data.md, "Pickers"): the client asks for a picker page, the
// user picks in a browser, and the service pushes the pick to the session
// as a KindPicker event with operate OperatePickerResult.
const (
	OpPickerOpen = "picker.open" // body: PickerOpen; result: PickerOpened
)

// KindPicker is the C ABI's ISCSDK_EVENT_PICKER. The SDK raises it with
// operate "Picker" (params url, pickerId, mode, expires) for the host to
// show the page; the service uses the same kind, with operate
// OperatePickerResult, to push the pick, which the SDK consumes.
const KindPicker int32 = 14

// Picker event names and values.
const (
	OperatePicker       = "Picker"       // made by the SDK: the page to show
	OperatePickerResult = "PickerResult" // pushed by the service: the pick

	PickerModeOpen = "open"
	PickerModeSave = "save"

	// Params "status" of a PickerResult.
	PickerPicked    = "picked"    // cloudPath (and for open, openType) are set
	PickerCancelled = "cancelled" // the user pressed Cancel
)

// PickerOpen asks for a picker page. RequestID is the client's request id,
// echoed as the RequestID of the PickerResult event.
type PickerOpen struct {
	Mode      string `json:"mode"`                // PickerModeOpen or PickerModeSave
	LocalName string `json:"localName,omitempty"` // save: the name to propose
	Assembly  bool   `json:"assembly,omitempty"`  // save: an assembly folder is saved
	RequestID uint64 `json:"requestId"`
}

// PickerOpened answers PickerOpen. URL may be relative to the session
// endpoint (its scheme ws/wss read as http/https).
type PickerOpened struct {
	URL      string    `json:"url"`
	PickerID string    `json:"pickerId"`
	Expires  time.Time `json:"expires"`
	// TTLSeconds is the link's life, for a client whose clock is not the
	// service's.
	TTLSeconds int64 `json:"ttlSeconds"`
}
