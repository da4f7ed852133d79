module github.com/iscsdk/iscsdk

go 1.26

require (
	github.com/gorilla/websocket v1.5.3
	go.etcd.io/bbolt v1.5.0
)

require (
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
