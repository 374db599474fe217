package flight

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/flightwal/flightwal/sqlexec"
)

// Role is what a token may do (API.md, Authentication and TLS); each role
// includes the ones below it.
type Role int

const (
	RoleNone Role = iota
	RoleRead
	RoleWrite
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole reads "read", "write" or "admin".
func ParseRole(s string) (Role, error) {
	switch s {
	case "read":
		return RoleRead, nil
	case "write":
		return RoleWrite, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("role %q: want read, write or admin", s)
}

// TokenEntry is one entry of auth.tokens_file.
type TokenEntry struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	Role  string `yaml:"role"`
}

// Principal is who made a call: the token's name and role.
type Principal struct {
	Name string
	Role Role
}

type principalKey struct{}

// PrincipalFrom is the caller authenticated for ctx's call, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

type tokenEntry struct {
	name  string
	token string
	hash  [sha256.Size]byte
	role  Role
}

// Auth checks bearer tokens from a tokens file. Reload swaps the set
// atomically; calls in flight keep the role they were admitted with.
type Auth struct {
	file   string
	tokens atomic.Pointer[[]tokenEntry]
	// certAdmin admits callers without a token as admin when their
	// TLS client certificate was verified (mTLS with no tokens file).
	certAdmin bool
}

// NewAuth reads the tokens file (auth.tokens_file).
func NewAuth(file string) (*Auth, error) {
	a := &Auth{file: file}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// NewCertAuth is the Auth of a server with a client CA and no tokens
// file: a verified client certificate is the credential, with role admin.
func NewCertAuth() *Auth {
	a := &Auth{certAdmin: true}
	a.tokens.Store(&[]tokenEntry{})
	return a
}

// Reload re-reads the tokens file; on error the previous tokens stay.
func (a *Auth) Reload() error {
	if a.file == "" {
		return nil
	}
	raw, err := os.ReadFile(a.file)
	if err != nil {
		return fmt.Errorf("auth.tokens_file: %w", err)
	}
	entries, err := parseTokens(raw)
	if err != nil {
		return fmt.Errorf("auth.tokens_file %s: %w", a.file, err)
	}
	a.tokens.Store(&entries)
	return nil
}

// parseTokens parses a tokens file: a YAML list of {name, token, role}.
func parseTokens(raw []byte) ([]tokenEntry, error) {
	var list []TokenEntry
	if err := yaml.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	out := make([]tokenEntry, 0, len(list))
	names, tokens := map[string]bool{}, map[string]bool{}
	for i, e := range list {
		if e.Name == "" || e.Token == "" {
			return nil, fmt.Errorf("entry %d: name and token must not be empty", i)
		}
		if strings.ContainsAny(e.Name, ":") {
			return nil, fmt.Errorf("entry %d (%s): a name must not contain ':'", i, e.Name)
		}
		r, err := ParseRole(e.Role)
		if err != nil {
			return nil, fmt.Errorf("entry %d (%s): %w", i, e.Name, err)
		}
		if names[e.Name] {
			return nil, fmt.Errorf("entry %d: name %q appears twice", i, e.Name)
		}
		if tokens[e.Token] {
			return nil, fmt.Errorf("entry %d (%s): its token is another entry's too", i, e.Name)
		}
		names[e.Name], tokens[e.Token] = true, true
		out = append(out, tokenEntry{name: e.Name, token: e.Token, hash: sha256.Sum256([]byte(e.Token)), role: r})
	}
	return out, nil
}

// Len is how many tokens are loaded.
func (a *Auth) Len() int { return len(*a.tokens.Load()) }

// lookup finds token's entry, comparing in constant time against every
// entry (hashes of equal length, no early exit).
func (a *Auth) lookup(token string) (tokenEntry, bool) {
	h := sha256.Sum256([]byte(token))
	var found tokenEntry
	ok := 0
	for _, e := range *a.tokens.Load() {
		if subtle.ConstantTimeCompare(h[:], e.hash[:]) == 1 {
			found, ok = e, 1
		}
	}
	return found, ok == 1
}

// basic checks HTTP basic credentials (user = name, password = token).
func (a *Auth) basic(name, token string) (tokenEntry, bool) {
	e, ok := a.lookup(token)
	if !ok || subtle.ConstantTimeCompare([]byte(e.name), []byte(name)) != 1 {
		return tokenEntry{}, false
	}
	return e, true
}

var (
	errUnauthenticated = status.Error(codes.Unauthenticated, "missing or unknown token: send authorization: Bearer <token>, or Handshake with basic credentials")
)

func denied(need, have Role, what string) error {
	return status.Errorf(codes.PermissionDenied, "%s needs role %s; this token has role %s", what, need, have)
}

const flightMethodPrefix = "/" + "arrow.flight.protocol.FlightService" + "/"

// methodRoles is the role each Flight RPC needs; DoAction needs read to
// start and its action type's role once the action is read.
var methodRoles = map[string]Role{
	"Handshake":      RoleNone,
	"ListFlights":    RoleRead,
	"GetFlightInfo":  RoleRead,
	"PollFlightInfo": RoleRead,
	"GetSchema":      RoleRead,
	"DoGet":          RoleRead,
	"ListActions":    RoleRead,
	"DoAction":       RoleRead,
	"DoPut":          RoleRead, // and what its descriptor asks for (putRole)
	"DoExchange":     RoleWrite,
}

// actionRoles is the role each action needs; types not listed need read
// (and fail as unknown unless a handler knows them).
var actionRoles = map[string]Role{
	"create_table": RoleAdmin,
	"drop_table":   RoleAdmin,
	"create_index": RoleAdmin,
	"drop_index":   RoleAdmin,
	"compact":      RoleAdmin,
	"freeze":       RoleWrite,
	"flush":        RoleWrite,
	"sync":         RoleWrite,
	"stats":        RoleRead,
}

// sqlRoles is the role each kind of Flight SQL statement needs, checked
// before the statement names any table: queries and metadata read,
// INSERT and DELETE write, CREATE and DROP admin. Flight SQL ingest needs
// write, and admin when it may create its table (as a DoPut does).
var sqlRoles = map[sqlexec.Kind]Role{
	sqlexec.KindQuery:       RoleRead,
	sqlexec.KindTransaction: RoleRead,
	sqlexec.KindOther:       RoleRead,
	sqlexec.KindInsert:      RoleWrite,
	sqlexec.KindDelete:      RoleWrite,
	sqlexec.KindCreate:      RoleAdmin,
	sqlexec.KindDrop:        RoleAdmin,
}

// authorize fails unless ctx's caller has role need for what; a server
// without auth admits every call.
func authorize(ctx context.Context, need Role, what string) error {
	if p, ok := PrincipalFrom(ctx); ok && p.Role < need {
		return denied(need, p.Role, what)
	}
	return nil
}

// putRole is the role a DoPut needs by its descriptor: binding a Flight
// SQL prepared query's parameters read, other Flight SQL commands write
// (the statement's own role is checked as it runs: sqlRoles), a native
// DoPut write, or admin when it may create its table.
func putRole(d *flight.FlightDescriptor) (Role, string) {
	if d == nil {
		return RoleWrite, "DoPut"
	}
	if cmd := d.GetCmd(); isFlightSQL(cmd) {
		var a anypb.Any
		_ = proto.Unmarshal(cmd, &a)
		kind := strings.TrimPrefix(a.GetTypeUrl(), flightSQLTypePrefix)
		if kind == "CommandPreparedStatementQuery" {
			return RoleRead, "Flight SQL " + kind
		}
		return RoleWrite, "Flight SQL " + kind
	}
	if req, err := parsePutDescriptor(d); err == nil && req.create != nil {
		return RoleAdmin, "DoPut with create"
	}
	return RoleWrite, "DoPut"
}

// needs is the role fullMethod needs; ok is false for a method that needs
// no credentials (Handshake, the gRPC health service).
func needs(fullMethod string) (Role, bool) {
	if isHealth(fullMethod) {
		return RoleNone, false
	}
	if m, ok := strings.CutPrefix(fullMethod, flightMethodPrefix); ok {
		if r, ok := methodRoles[m]; ok {
			return r, r != RoleNone
		}
	}
	return RoleAdmin, true // anything unknown: the most restrictive
}

// authenticate finds the caller of ctx's call.
func (a *Auth) authenticate(ctx context.Context) (Principal, error) {
	for _, v := range metadata.ValueFromIncomingContext(ctx, "authorization") {
		scheme, tok, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") {
			continue
		}
		if e, ok := a.lookup(strings.TrimSpace(tok)); ok {
			return Principal{Name: e.name, Role: e.role}, nil
		}
		return Principal{}, errUnauthenticated
	}
	if a.certAdmin && verifiedClientCert(ctx) {
		return Principal{Name: "client-certificate", Role: RoleAdmin}, nil
	}
	return Principal{}, errUnauthenticated
}

// UnaryInterceptor authenticates and authorizes a unary call.
func (a *Auth) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	need, check := needs(info.FullMethod)
	if !check {
		return handler(ctx, req)
	}
	p, err := a.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if p.Role < need {
		return nil, denied(need, p.Role, methodName(info.FullMethod))
	}
	ctx = context.WithValue(ctx, principalKey{}, p)
	noteContext(ctx)
	return handler(ctx, req)
}

// StreamInterceptor authenticates and authorizes a streaming call; a
// DoAction is authorized again by its action type when it is received,
// before the handler looks anything up.
func (a *Auth) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod == flightMethodPrefix+"Handshake" {
		return a.handshake(srv, ss, handler)
	}
	need, check := needs(info.FullMethod)
	if !check {
		return handler(srv, ss)
	}
	p, err := a.authenticate(ss.Context())
	if err != nil {
		return err
	}
	if p.Role < need {
		return denied(need, p.Role, methodName(info.FullMethod))
	}
	as := &authedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), principalKey{}, p), p: p,
		action: info.FullMethod == flightMethodPrefix+"DoAction", put: info.FullMethod == flightMethodPrefix+"DoPut"}
	noteContext(as.ctx)
	return handler(srv, as)
}

// handshake answers basic credentials with the bearer token in the
// authorization response header (what arrow-go's AuthenticateBasicToken
// and pyarrow's authenticate_basic_token read). No credentials: the
// handshake succeeds and grants nothing.
func (a *Auth) handshake(srv any, ss grpc.ServerStream, handler grpc.StreamHandler) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	if vals := md.Get("authorization"); len(vals) > 0 {
		scheme, cred, ok := strings.Cut(vals[0], " ")
		if !ok {
			return errUnauthenticated
		}
		switch {
		case strings.EqualFold(scheme, "basic"):
			name, tok, err := decodeBasic(strings.TrimSpace(cred))
			if err != nil {
				return status.Errorf(codes.Unauthenticated, "basic credentials: %v", err)
			}
			e, ok := a.basic(name, tok)
			if !ok {
				return errUnauthenticated
			}
			if err := ss.SetHeader(metadata.Pairs("authorization", "Bearer "+e.token)); err != nil {
				return err
			}
		case strings.EqualFold(scheme, "bearer"):
			e, ok := a.lookup(strings.TrimSpace(cred))
			if !ok {
				return errUnauthenticated
			}
			if err := ss.SetHeader(metadata.Pairs("authorization", "Bearer "+e.token)); err != nil {
				return err
			}
		default:
			return errUnauthenticated
		}
	}
	return handler(srv, ss)
}

// decodeBasic decodes "base64(user:password)", padded or not.
func decodeBasic(s string) (string, string, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	if err != nil {
		return "", "", errors.New("not base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("want user:password")
	}
	return user, pass, nil
}

func methodName(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[i+1:]
	}
	return full
}

// authedStream carries the principal and, on a DoAction, authorizes the
// action type as the action is received.
type authedStream struct {
	grpc.ServerStream
	ctx    context.Context
	p      Principal
	action bool // DoAction: authorize the action type
	put    bool // DoPut: authorize by the descriptor (putRole)
	// putSeen: the DoPut's first message was authorized.
	putSeen bool
}

func (s *authedStream) Context() context.Context { return s.ctx }

func (s *authedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if a, ok := m.(*flight.Action); ok && s.action {
		need, ok := actionRoles[a.GetType()]
		if !ok {
			need = RoleRead
		}
		if s.p.Role < need {
			return denied(need, s.p.Role, "action "+a.GetType())
		}
	}
	if d, ok := m.(*flight.FlightData); ok && s.put && (!s.putSeen || d.GetFlightDescriptor() != nil) {
		s.putSeen = true
		if need, what := putRole(d.GetFlightDescriptor()); s.p.Role < need {
			// A Go error, not a status: the DoPut reader wraps what
			// RecvMsg returns, and readError lets this one through.
			return fmt.Errorf("%w: %s needs role %s; this token has role %s", errPermissionDenied, what, need, s.p.Role)
		}
	}
	return nil
}
