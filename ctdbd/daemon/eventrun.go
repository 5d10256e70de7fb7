package daemon

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/eventcmd"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/server"
	"github.com/ctdb-go/ctdb/runner"
)

// handleEventRun runs an event for `ctdb event run` (a message on
// protocol.SrvIDEventRun) through the daemon's own pipeline, so that it is serialised
// with the daemon's events, and answers on the request's reply srvid.
func (d *Daemon) handleEventRun(c *server.Client, m *protocol.ReqMessage) {
	var req eventcmd.RunRequest
	reply := func(r eventcmd.RunReply, srvid uint64) {
		data, err := json.Marshal(r)
		if err != nil {
			data, _ = json.Marshal(eventcmd.RunReply{Error: err.Error()})
		}
		sendMessage(c, d.self, &protocol.ReqMessage{SrvID: srvid, Data: data})
	}
	if err := json.Unmarshal(m.Data, &req); err != nil || req.ReplySrvID == 0 {
		d.log.Info("ignoring a malformed event-run request", "client", c.ID, "err", err)
		return
	}
	if d.opts.Events == nil {
		reply(eventcmd.RunReply{Error: "this daemon runs no event scripts"}, req.ReplySrvID)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.Done(): // the tool went away: stop the run
			cancel()
		case <-ctx.Done():
		}
	}()
	res, err := d.opts.Events.RunFor(ctx, time.Duration(req.TimeoutMS)*time.Millisecond, runner.Event(req.Event), req.Args...)
	if err != nil {
		reply(eventcmd.RunReply{Error: err.Error()}, req.ReplySrvID)
		return
	}
	reply(eventcmd.RunReply{Result: res}, req.ReplySrvID)
}
