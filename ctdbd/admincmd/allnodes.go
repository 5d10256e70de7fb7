package admincmd

import (
	"context"
	"fmt"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/cli"
	"github.com/ctdb-go/ctdb/ctdbd/client"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

func init() { cli.ConnectedNodes = connectedNodes }

// connectedNodes asks the local daemon for its node map and returns the nodes that are
// connected and not deleted, for `-n all`.
func connectedNodes(getenv func(string) string) ([]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	path := client.SocketPath(getenv)
	conn, err := client.Dial(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("Failed to connect to CTDB daemon (%s)", path)
	}
	defer conn.Close()
	var m protocol.NodeMap
	if err := conn.ControlData(ctx, protocol.CurrentNode, protocol.ControlGetNodeMap, nil, &m); err != nil {
		return nil, err
	}
	var out []int
	for _, n := range m.Nodes {
		if n.Flags&(protocol.NodeFlagsDisconnected|protocol.NodeFlagsDeleted) == 0 {
			out = append(out, int(n.PNN))
		}
	}
	return out, nil
}
