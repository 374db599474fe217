package flight

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/flight"

	"github.com/flightwal/flightwal/internal/ipcguard"
)

// guardedStream checks every IPC message a DoPut client sends before
// arrow-go's reader parses it: the reader trusts the counts in the
// message's metadata and allocates by them, so a few hostile bytes could
// otherwise make the process ask for more memory than it has (package
// ipcguard). A refused message ends the stream with InvalidArgument.
type guardedStream struct {
	flight.FlightService_DoPutServer
	n int // messages so far
}

func (g *guardedStream) Recv() (*flight.FlightData, error) {
	fd, err := g.FlightService_DoPutServer.Recv()
	if err != nil {
		return fd, err
	}
	g.n++
	if len(fd.DataHeader) == 0 {
		return fd, nil // a descriptor- or metadata-only message
	}
	if err := ipcguard.Check(fd.DataHeader, fd.DataBody, ipcguard.DefaultLimits); err != nil {
		return nil, fmt.Errorf("%w: DoPut message %d: %v", errInvalid, g.n, err)
	}
	return fd, nil
}
