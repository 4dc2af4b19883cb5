package enrich

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// criClient makes the two unary calls of the Container Runtime Interface
// that enrichment needs (Version and ContainerStatus), as gRPC over
// unencrypted HTTP/2 on a unix socket. It encodes and decodes only the
// fields it uses, so the agent carries no generated CRI code.
type criClient struct {
	http *http.Client
}

func newCRIClient(socket string) *criClient {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols: &p,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &criClient{http: &http.Client{Transport: tr}}
}

// grpcError is a call's non-OK gRPC status.
type grpcError struct {
	code int
	msg  string
}

func (e *grpcError) Error() string { return fmt.Sprintf("gRPC status %d: %s", e.code, e.msg) }

const grpcNotFound = 5

func isNotFound(err error) bool {
	var ge *grpcError
	return errors.As(err, &ge) && ge.code == grpcNotFound
}

// maxCRIResponse bounds what one answer may hold.
const maxCRIResponse = 4 << 20

// call sends one request message to method (/package.Service/Method) and
// returns the response message.
func (c *criClient) call(ctx context.Context, method string, msg []byte) ([]byte, error) {
	body := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(body[1:], uint32(len(msg)))
	body = append(body, msg...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost"+method, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCRIResponse+6))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d: not a gRPC endpoint", resp.StatusCode)
	}
	// The status comes in the trailers, or in the headers of an answer
	// without a body.
	status := resp.Trailer.Get("Grpc-Status")
	message := resp.Trailer.Get("Grpc-Message")
	if status == "" {
		status, message = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	if status == "" {
		return nil, errors.New("answer without a gRPC status")
	}
	if status != "0" {
		code, err := strconv.Atoi(status)
		if err != nil {
			return nil, fmt.Errorf("bad gRPC status %q", status)
		}
		if m, err := url.PathUnescape(message); err == nil {
			message = m
		}
		return nil, &grpcError{code: code, msg: message}
	}
	if len(data) < 5 {
		return nil, errors.New("answer without a message")
	}
	if data[0] != 0 {
		return nil, errors.New("compressed answer (none was offered)")
	}
	n := binary.BigEndian.Uint32(data[1:5])
	if n > maxCRIResponse || int(n) != len(data)-5 {
		return nil, fmt.Errorf("answer of %d bytes framed as %d", len(data)-5, n)
	}
	return data[5:], nil
}

// runtimeName asks the endpoint what it is (VersionResponse.runtime_name).
func (c *criClient) runtimeName(ctx context.Context) (string, error) {
	resp, err := c.call(ctx, "/runtime.v1.RuntimeService/Version", nil)
	if err != nil {
		return "", err
	}
	var name string
	err = eachField(resp, func(num protowire.Number, v []byte) error {
		if num == 2 {
			name = string(v)
		}
		return nil
	})
	return name, err
}

// criContainer is what ContainerStatus tells about a container.
type criContainer struct {
	id, name, image, imageRef string
	labels                    map[string]string
}

// containerStatus calls ContainerStatus (not verbose) for id.
func (c *criClient) containerStatus(ctx context.Context, id string) (criContainer, error) {
	req := protowire.AppendTag(nil, 1, protowire.BytesType) // container_id
	req = protowire.AppendString(req, id)
	resp, err := c.call(ctx, "/runtime.v1.RuntimeService/ContainerStatus", req)
	if err != nil {
		return criContainer{}, err
	}
	return decodeContainerStatus(resp)
}

// decodeContainerStatus reads a ContainerStatusResponse.
func decodeContainerStatus(resp []byte) (criContainer, error) {
	out := criContainer{labels: map[string]string{}}
	var userImage string
	err := eachField(resp, func(num protowire.Number, status []byte) error {
		if num != 1 { // status
			return nil
		}
		return eachField(status, func(num protowire.Number, v []byte) error {
			switch num {
			case 1:
				out.id = string(v)
			case 2: // metadata
				return eachField(v, func(num protowire.Number, v []byte) error {
					if num == 1 {
						out.name = string(v)
					}
					return nil
				})
			case 8: // image: ImageSpec
				return eachField(v, func(num protowire.Number, v []byte) error {
					switch num {
					case 1:
						out.image = string(v)
					case 18:
						userImage = string(v)
					}
					return nil
				})
			case 9:
				out.imageRef = string(v)
			case 12: // labels: map entries
				var key, val string
				err := eachField(v, func(num protowire.Number, v []byte) error {
					switch num {
					case 1:
						key = string(v)
					case 2:
						val = string(v)
					}
					return nil
				})
				out.labels[key] = val
				return err
			}
			return nil
		})
	})
	if userImage != "" {
		out.image = userImage // the image as the user asked for it
	}
	return out, err
}

// eachField calls fn with the number and contents of every length-delimited
// field of a protobuf message, skipping fields of other wire types.
func eachField(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("bad protobuf message: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("bad protobuf message: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return fmt.Errorf("bad protobuf message: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}
