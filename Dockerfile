# fsaudit container image: the BPF objects and the static binary are built
# in the first stage; the image holds nothing but the binary.
#
#   docker build -t fsaudit .
#   docker run --rm --pid=host --privileged \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro -v /sys/kernel/tracing:/sys/kernel/tracing \
#     -v /var/log/fsaudit:/var/log/fsaudit fsaudit

FROM golang:1.26-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang llvm libbpf-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Rebuild the BPF objects from source, so the image never carries stale ones.
RUN cd bpf && go generate ./...
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/fsaudit ./cmd/fsaudit

FROM scratch
COPY --from=build /out/fsaudit /fsaudit
ENTRYPOINT ["/fsaudit"]
CMD ["run"]
