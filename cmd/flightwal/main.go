// Command flightwal is the flightwal server (`serve`) and a small Flight
// client for it (`put`, `get`, `sql`, `action`). The benchmark is its own binary,
// cmd/flightwal-bench, so this one links no test or benchmark helpers
// (TestNoTestingInServer).
package main

import (
	"fmt"
	"os"

	_ "time/tzdata" // filters read named time zones without system zoneinfo
)

const usage = `flightwal: a streaming write path for Lance tables over Arrow Flight

usage:
  flightwal serve  [--config FILE] [--listen ADDR] [--storage.uri DIR|s3://b/p] [...]
  flightwal put    [--addr ADDR] --table T [--file F.parquet|.arrow|.csv | --generate N] [--create] [--pk COL] [--async] [--batch-rows N]
  flightwal get    [--addr ADDR] [--format table|json|ipc] '<ticket JSON>'
  flightwal sql    [--addr ADDR] [--format table|csv|json|arrow] ["SQL statement"]   (none: statements from stdin)
  flightwal action [--addr ADDR] TYPE ['<body JSON>']

put, get, sql and action take --token (default $FLIGHTWAL_TOKEN), --tls-ca
and grpc+tls://host:port addresses (--tls-cert/--tls-key for mTLS).
Run "flightwal CMD --help" for the flags of one command. The benchmark is
a binary of its own: flightwal-bench --help.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = runServe(os.Args[2:])
	case "put":
		err = runPut(os.Args[2:])
	case "get":
		err = runGet(os.Args[2:])
	case "sql":
		err = runSQL(os.Args[2:])
	case "action":
		err = runAction(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "flightwal: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flightwal:", err)
		os.Exit(1)
	}
}
