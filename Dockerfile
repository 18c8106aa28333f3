# ctem as a container: a static binary on a distroless base, run as a
# non-root user, made for a read-only root filesystem. The database, the
# upload spool and the feeds live in the /data volume.
#
#   docker build -t ctem .
#   docker run --read-only --tmpfs /tmp -v ctem-data:/data -p 127.0.0.1:8080:8080 ctem
#   docker run --rm -v ctem-data:/data ctem token create --name ci --role uploader
#
# The server listens on every interface of the container, in plain HTTP
# (--insecure-listen): publish the port on loopback, or put a TLS proxy in
# front, or mount a certificate and give --tls-cert and --tls-key instead.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/ctem ./cmd/ctem

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ctem /usr/local/bin/ctem
USER nonroot:nonroot
ENV CTEM_DB=/data/ctem.db CTEM_FEEDS_DIR=/data/feeds TMPDIR=/tmp
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ctem"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--insecure-listen", "--log-format", "json"]
