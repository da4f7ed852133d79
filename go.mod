module github.com/iscsdk/iscsdk

go 1.26.0

require (
	github.com/ebitengine/purego v0.11.3
	github.com/gorilla/websocket v1.5.3
	github.com/klauspost/compress v1.20.4
	go.etcd.io/bbolt v1.5.0
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
)

require (
	golang.org/x/text v0.43.0 // indirect
)
