package eventcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/client"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/runner"
)

// RunRequest is what `ctdb event run` sends the daemon on protocol.SrvIDEventRun.
type RunRequest struct {
	TimeoutMS  int64    `json:"timeout_ms"` // <= 0: no limit
	Event      string   `json:"event"`
	Args       []string `json:"args,omitempty"`
	ReplySrvID uint64   `json:"reply_srvid"`
}

// RunReply is the daemon's answer: the result, or why the event could not run.
type RunReply struct {
	Result *runner.Result `json:"result,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// ErrDaemonRun wraps the errors the daemon reports for a run it could not do.
var ErrDaemonRun = errors.New("eventcmd: the daemon could not run the event")

// DaemonClient runs events in the running daemon (serialised with its own events)
// and reads results from the result store the daemon writes.
type DaemonClient struct {
	Conn  *client.Conn
	Store runner.Store
}

// ConnectDaemon returns the running daemon's Service, or false when no daemon answers
// on the socket (CTDB_SOCKET or the default). It is what DaemonService is set to by
// the ctdb command.
func ConnectDaemon(rc runner.Config) (Service, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, client.SocketPath(os.Getenv))
	if err != nil {
		return nil, false
	}
	var store runner.Store
	if dir := rc.WithDefaults().ResultDir; dir != "-" {
		store = &runner.FileStore{Dir: dir}
	}
	return &DaemonClient{Conn: conn, Store: store}, true
}

// Run asks the daemon to run ev and waits for the result.
func (d *DaemonClient) Run(ctx context.Context, timeout time.Duration, ev runner.Event, args []string) (*runner.Result, error) {
	reply := protocol.SrvIDToolRange | uint64(os.Getpid())<<8 | 0x45 // 'E'
	ch, err := d.Conn.Register(ctx, protocol.CurrentNode, reply)
	if err != nil {
		return nil, err
	}
	defer d.Conn.Deregister(context.Background(), protocol.CurrentNode, reply)
	req, _ := json.Marshal(RunRequest{TimeoutMS: timeout.Milliseconds(), Event: string(ev), Args: args, ReplySrvID: reply})
	blob := protocol.Blob(req)
	if err := d.Conn.SendMessage(protocol.CurrentNode, protocol.SrvIDEventRun, &blob); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		var r RunReply
		if err := json.Unmarshal(m.Data, &r); err != nil {
			return nil, fmt.Errorf("eventcmd: bad reply from the daemon: %w", err)
		}
		if r.Error != "" {
			return nil, fmt.Errorf("%w: %s", ErrDaemonRun, r.Error)
		}
		if r.Result == nil {
			return nil, fmt.Errorf("%w: empty reply", ErrDaemonRun)
		}
		return r.Result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.Conn.Done():
		return nil, errors.New("eventcmd: the daemon closed the connection before the event finished")
	}
}

// Status loads the stored result of ev (the daemon stores every event's result).
func (d *DaemonClient) Status(ev runner.Event) (*runner.Result, error) {
	if d.Store == nil {
		return nil, runner.ErrNeverRun
	}
	return d.Store.Load(ev)
}
