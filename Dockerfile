# flightwal server image: `docker build -t flightwal .`
# Run: docker run -p 8815:8815 -p 9815:9815 -v flightwal-data:/data \
#        -v $PWD/tokens.yaml:/etc/flightwal/tokens.yaml:ro flightwal
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The SQL engine (embedded DuckDB) is cgo and built only with the
# duckdb_arrow tag (Makefile); without them Flight SQL statements answer
# Unimplemented. The binary then needs glibc and libstdc++ at run time.
RUN CGO_ENABLED=1 go build -tags=duckdb_arrow -trimpath -ldflags="-s -w" -o /out/flightwal ./cmd/flightwal

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data flightwal \
    && mkdir -p /data /etc/flightwal && chown flightwal /data
COPY --from=build /out/flightwal /usr/local/bin/flightwal
COPY deploy/flightwal.yaml /etc/flightwal/flightwal.yaml
USER flightwal
WORKDIR /data
# Listen on every interface inside the container: a tokens file (or a
# client CA) is then required, or the server refuses to start open.
ENV FLIGHTWAL_CONFIG=/etc/flightwal/flightwal.yaml \
    FLIGHTWAL_LISTEN=0.0.0.0:8815 \
    FLIGHTWAL_METRICS_LISTEN=0.0.0.0:9815 \
    FLIGHTWAL_STORAGE_URI=/data \
    FLIGHTWAL_AUTH_TOKENS_FILE=/etc/flightwal/tokens.yaml \
    FLIGHTWAL_LOG_FORMAT=json
EXPOSE 8815 9815
VOLUME /data
STOPSIGNAL SIGTERM
ENTRYPOINT ["flightwal", "serve"]
