package record

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AppendJSON appends r as one JSON object (the record of the README, ECS field
// names nested as objects) holding no newline: a line of its own once the
// sink adds one. Fields come in a fixed order; strings are escaped so that
// no value can end the record early.
func AppendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"@timestamp":`...)
	b = appendTime(b, r.Time)
	b = append(b, `,"ecs":{"version":"`+ECSVersion+`"}`...)

	b = append(b, `,"event":{"action":`...)
	b = appendString(b, r.Action)
	b = append(b, `,"category":["file"],"type":[`...)
	b = appendString(b, eventType(r.Action))
	b = append(b, `],"kind":"event","outcome":"`...)
	b = append(b, eventOutcome(r.Action)...)
	b = append(b, `","module":"`+ECSModule+`","dataset":"`+ECSDataset+`","id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"sequence":`...)
	b = strconv.AppendUint(b, r.Sequence, 10)
	if !r.Created.IsZero() {
		b = append(b, `,"created":`...)
		b = appendTime(b, r.Created)
	}
	if !r.End.IsZero() {
		b = append(b, `,"start":`...)
		b = appendTime(b, r.Time)
		b = append(b, `,"end":`...)
		b = appendTime(b, r.End)
	}
	b = append(b, '}')

	if !Marker(r.Action) {
		b = appendFile(b, &r.File)
		b = appendProcess(b, &r.Process)
		b = appendUser(b, &r.User)
		b = appendContainer(b, &r.Container, &r.Orchestrator)
	}

	b = append(b, `,"host":{"name":`...)
	b = appendString(b, r.Host.Name)
	if r.Host.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, r.Host.ID)
	}
	if r.Host.BootID != "" {
		b = append(b, `,"boot":{"id":`...)
		b = appendString(b, r.Host.BootID)
		b = append(b, '}')
	}
	b = append(b, '}')

	b = appendAgent(b, &r.Agent)
	b = appendRelated(b, r)
	b = appendFSAudit(b, r)
	return append(b, '}')
}

// appendAgent writes ECS agent: fsaudit, its version, and the ids known.
func appendAgent(b []byte, a *Agent) []byte {
	b = append(b, `,"agent":{"type":"fsaudit"`...)
	if a.Version != "" {
		b = append(b, `,"version":`...)
		b = appendString(b, a.Version)
	}
	if a.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, a.ID)
	}
	if a.EphemeralID != "" {
		b = append(b, `,"ephemeral_id":`...)
		b = appendString(b, a.EphemeralID)
	}
	return append(b, '}')
}

// eventOutcome is ECS event.outcome: a file change is recorded once it
// succeeded; a lost record tells of events whose outcome is unknown.
func eventOutcome(action string) string {
	if action == ActionLost {
		return "unknown"
	}
	return "success"
}

// appendRelated writes ECS related.user (the writer's user names, or ids
// without one, and a new owner's) and related.hosts, for pivoting.
func appendRelated(b []byte, r *Record) []byte {
	var users []string
	add := func(id uint32, name string) {
		v := name
		if v == "" {
			v = strconv.FormatUint(uint64(id), 10)
		}
		if !slices.Contains(users, v) {
			users = append(users, v)
		}
	}
	if !Marker(r.Action) {
		u := &r.User
		add(u.ID, u.Name)
		add(u.EffectiveID, u.EffectiveName)
		if u.HasAudit {
			add(u.AuditID, u.AuditName)
		}
		if r.File.HasUID {
			add(r.File.UID, r.File.Owner)
		}
	}
	b = append(b, `,"related":{`...)
	if len(users) > 0 {
		b = appendStringList(b, `"user":`, users)
		b = append(b, ',')
	}
	b = append(b, `"hosts":[`...)
	b = appendString(b, r.Host.Name)
	return append(b, "]}"...)
}

// FileExtension is ECS file.extension: what follows the name's last dot,
// without it; none for a name without one, or that starts with its only
// dot (.bashrc).
func FileExtension(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return ""
	}
	return name[i+1:]
}

func eventType(action string) string {
	switch action {
	case "create":
		return "creation"
	case "delete":
		return "deletion"
	case ActionLost, ActionSeal:
		return "info"
	}
	return "change"
}

func appendFile(b []byte, f *File) []byte {
	b = append(b, `,"file":{"path":`...)
	b = appendString(b, f.Path)
	b = append(b, `,"name":`...)
	b = appendString(b, f.Name)
	b = append(b, `,"directory":`...)
	b = appendString(b, f.Directory)
	if ext := FileExtension(f.Name); ext != "" {
		b = append(b, `,"extension":`...)
		b = appendString(b, ext)
	}
	if f.TargetPath != "" {
		b = append(b, `,"target_path":`...)
		b = appendString(b, f.TargetPath)
	}
	if f.Inode != 0 {
		b = append(b, `,"inode":"`...)
		b = strconv.AppendUint(b, f.Inode, 10)
		b = append(b, `","device":"`...)
		b = strconv.AppendUint(b, uint64(f.DevMajor), 10)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(f.DevMinor), 10)
		b = append(b, '"')
	}
	if f.Mode != 0 { // 0: a file named by a path string, whose mode the event did not tell
		b = append(b, `,"mode":"`...)
		b = appendOctalMode(b, f.Mode&0o7777)
		b = append(b, '"')
		// ECS knows three types; the others are fsaudit.file_type.
		if t := fileType(f.Mode); ecsFileType(t) {
			b = append(b, `,"type":"`...)
			b = append(b, t...)
			b = append(b, '"')
		}
	}
	if f.HasUID {
		b = appendFileID(b, `,"uid":"`, f.UID, `,"owner":`, f.Owner)
	}
	if f.HasGID {
		b = appendFileID(b, `,"gid":"`, f.GID, `,"group":`, f.Group)
	}
	if f.HasSize {
		b = append(b, `,"size":`...)
		b = strconv.AppendUint(b, f.Size, 10)
	}
	if !f.Mtime.IsZero() {
		b = append(b, `,"mtime":`...)
		b = appendTime(b, f.Mtime)
	}
	if !f.Accessed.IsZero() {
		b = append(b, `,"accessed":`...)
		b = appendTime(b, f.Accessed)
	}
	return append(b, '}')
}

// appendFileID writes a file's owner or group id as a string, and its name
// when known.
func appendFileID(b []byte, idKey string, id uint32, nameKey, name string) []byte {
	b = append(b, idKey...)
	b = strconv.AppendUint(b, uint64(id), 10)
	b = append(b, '"')
	if name != "" {
		b = append(b, nameKey...)
		b = appendString(b, name)
	}
	return b
}

func appendOctalMode(b []byte, m uint32) []byte {
	return append(b, byte('0'+(m>>9)&7), byte('0'+(m>>6)&7), byte('0'+(m>>3)&7), byte('0'+m&7))
}

// ecsFileType tells the types ECS file.type takes.
func ecsFileType(t string) bool { return t == "file" || t == "dir" || t == "symlink" }

// fileType names the type of the mode's type bits: ECS file.type for
// file, dir and symlink, fsaudit.file_type for the others.
func fileType(mode uint32) string {
	switch mode & 0o170000 {
	case 0o100000:
		return "file"
	case 0o040000:
		return "dir"
	case 0o120000:
		return "symlink"
	case 0o010000:
		return "fifo"
	case 0o140000:
		return "socket"
	case 0o020000:
		return "char_device"
	case 0o060000:
		return "block_device"
	}
	return "unknown"
}

func appendProcess(b []byte, p *Process) []byte {
	b = append(b, `,"process":{"pid":`...)
	b = strconv.AppendUint(b, uint64(p.PID), 10)
	if p.EntityID != "" {
		b = append(b, `,"entity_id":`...)
		b = appendString(b, p.EntityID)
	}
	b = append(b, `,"thread":{"id":`...)
	b = strconv.AppendUint(b, uint64(p.TID), 10)
	b = append(b, `},"name":`...)
	b = appendString(b, p.Name)
	if p.Executable != "" {
		b = append(b, `,"executable":`...)
		b = appendString(b, p.Executable)
	}
	if p.Args != nil {
		b = append(b, `,"args":[`...)
		for i, a := range p.Args {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"parent":{"pid":`...)
	b = strconv.AppendUint(b, uint64(p.PPID), 10)
	return append(b, "}}"...)
}

// appendIDName appends `"id":"N"` and, when known, `,"name":"..."`.
func appendIDName(b []byte, id uint32, name string) []byte {
	b = append(b, `"id":"`...)
	b = strconv.AppendUint(b, uint64(id), 10)
	b = append(b, '"')
	if name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, name)
	}
	return b
}

func appendUser(b []byte, u *User) []byte {
	b = append(b, `,"user":{`...)
	b = appendIDName(b, u.ID, u.Name)
	b = append(b, `,"effective":{`...)
	b = appendIDName(b, u.EffectiveID, u.EffectiveName)
	b = append(b, `},"group":{`...)
	b = appendIDName(b, u.GroupID, u.GroupName)
	b = append(b, '}')
	if u.HasAudit {
		b = append(b, `,"audit":{`...)
		b = appendIDName(b, u.AuditID, u.AuditName)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendContainer(b []byte, c *Container, o *Orchestrator) []byte {
	if c.ID != "" {
		b = append(b, `,"container":{"id":`...)
		b = appendString(b, c.ID)
		if c.Runtime != "" {
			b = append(b, `,"runtime":`...)
			b = appendString(b, c.Runtime)
		}
		b = appendNameImage(b, c)
		b = append(b, '}')
	}
	if o.ResourceID != "" || o.ResourceName != "" {
		b = append(b, `,"orchestrator":{`...)
		if o.Namespace != "" {
			b = append(b, `"namespace":`...)
			b = appendString(b, o.Namespace)
			b = append(b, ',')
		}
		b = append(b, `"resource":{"type":"pod"`...)
		if o.ResourceName != "" {
			b = append(b, `,"name":`...)
			b = appendString(b, o.ResourceName)
		}
		if o.ResourceID != "" {
			b = append(b, `,"id":`...)
			b = appendString(b, o.ResourceID)
		}
		b = append(b, "}}"...)
	}
	return b
}

// appendNameImage writes a container's name and image, as ECS and OCSF
// both name them, when known.
func appendNameImage(b []byte, c *Container) []byte {
	if c.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, c.Name)
	}
	if c.ImageName != "" {
		b = append(b, `,"image":{"name":`...)
		b = appendString(b, c.ImageName)
		b = append(b, '}')
	}
	return b
}

func appendFSAudit(b []byte, r *Record) []byte {
	f := &r.FSAudit
	b = append(b, `,"fsaudit":{`...)
	switch r.Action {
	case ActionLost:
		b = append(b, `"lost":`...)
		b = strconv.AppendUint(b, f.Lost, 10)
	case ActionSeal:
		b = appendSeal(b, f.Seal)
	default:
		b = appendFSAuditFields(b, r.Action, f)
		if t := fileType(r.File.Mode); t != "unknown" && !ecsFileType(t) {
			b = append(b, `,"file_type":"`...)
			b = append(b, t...)
			b = append(b, '"')
		}
		b = appendRawBytes(b, r)
	}
	if f.Replay != nil {
		b = AppendReplay(b, f.Replay)
	}
	if f.Chain.Hash != "" {
		b = AppendChain(b, f.Chain)
	}
	return append(b, '}')
}

// AppendReplay writes the replay member, which comes right before the
// chain: `,"replay":{"topic":"..","partition":N,"offset":N}`.
func AppendReplay(b []byte, r *Replay) []byte {
	b = append(b, `,"replay":{"topic":`...)
	b = appendString(b, r.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	return append(b, '}')
}

// AppendChained appends the json encoding of a record with chain c, given
// canonical, its encoding without a chain (AppendJSON with Chain zero): the
// chain is the last member of the fsaudit object, which ends the record, so
// the two differ only there. The hash chain's canonical form and the
// record then take one encoding.
func AppendChained(b, canonical []byte, c Chain) []byte {
	if len(canonical) < 2 {
		return b
	}
	b = append(b, canonical[:len(canonical)-2]...)
	b = AppendChain(b, c)
	return append(b, "}}"...)
}

// appendSeal writes a seal record's seal member.
func appendSeal(b []byte, s *Seal) []byte {
	if s == nil {
		s = &Seal{}
	}
	b = append(b, `"seal":{"reason":`...)
	b = appendString(b, s.Reason)
	b = append(b, `,"sink":`...)
	b = appendString(b, s.Sink)
	b = append(b, `,"instance":`...)
	b = appendString(b, s.Instance)
	b = append(b, `,"sequence":`...)
	b = strconv.AppendUint(b, s.Sequence, 10)
	b = append(b, `,"hash":`...)
	b = appendString(b, s.Hash)
	if s.KeyID != "" {
		b = append(b, `,"epoch":`...)
		b = strconv.AppendUint(b, s.Epoch, 10)
		b = append(b, `,"key_id":`...)
		b = appendString(b, s.KeyID)
		if !s.NextBefore.IsZero() {
			b = append(b, `,"next_before":`...)
			b = appendTime(b, s.NextBefore)
		}
		b = append(b, `,"mac":`...)
		b = appendString(b, s.MAC)
	}
	if s.Anchored {
		b = append(b, `,"anchored":true`...)
	}
	return append(b, '}')
}

// AppendChain writes the chain member that ends the fsaudit object:
// `,"chain":{"seq":N,"prev":"..","hash":".."}` ("seq" only when set).
func AppendChain(b []byte, c Chain) []byte {
	b = append(b, `,"chain":{`...)
	if c.Seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendUint(b, c.Seq, 10)
		b = append(b, ',')
	}
	b = append(b, `"prev":`...)
	b = appendString(b, c.Prev)
	b = append(b, `,"hash":`...)
	b = appendString(b, c.Hash)
	return append(b, "}"...)
}

// appendFSAuditFields writes fsaudit's own fields of an event's record, as
// members of an object that the caller opens and closes.
func appendFSAuditFields(b []byte, action string, f *FSAudit) []byte {
	b = append(b, `"hook":`...)
	b = appendString(b, f.Hook)
	if action == ActionWrite || action == ActionMmapWrite {
		b = append(b, `,"bytes":`...)
		b = strconv.AppendUint(b, f.Bytes, 10)
		if action == ActionWrite {
			b = append(b, `,"writes":`...)
			b = strconv.AppendUint(b, f.Writes, 10)
		}
		b = append(b, `,"offset":`...)
		b = strconv.AppendUint(b, f.Offset, 10)
	}
	if f.Via != "" {
		b = append(b, `,"via":`...)
		b = appendString(b, f.Via)
	}
	if f.XattrName != "" {
		b = append(b, `,"xattr":{"name":`...)
		b = appendString(b, f.XattrName)
		b = append(b, '}')
	}
	b = appendStringList(b, `,"rename_flags":`, f.RenameFlags)
	if f.HostPath != "" {
		b = append(b, `,"host_path":`...)
		b = appendString(b, f.HostPath)
	}
	if f.TargetHostPath != "" {
		b = append(b, `,"target_host_path":`...)
		b = appendString(b, f.TargetHostPath)
	}
	if f.PathTruncated {
		b = append(b, `,"path_truncated":true`...)
	}
	if f.PathUnresolved {
		b = append(b, `,"path_unresolved":true`...)
	}
	if f.Links > 1 {
		b = append(b, `,"links":`...)
		b = strconv.AppendUint(b, uint64(f.Links), 10)
	}
	if f.Deleted {
		b = append(b, `,"deleted":true`...)
	}
	if f.ArgsTruncated {
		b = append(b, `,"args_truncated":true`...)
	}
	return appendStringList(b, `,"incomplete":`, f.Incomplete)
}

// appendStringList writes key (with its comma and colon) and the strings
// as a JSON array, or nothing when there are none.
func appendStringList(b []byte, key string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendTime writes RFC 3339 in UTC with all nine digits of nanoseconds.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z")
	return append(b, '"')
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string. Quotes, backslashes and every
// control character are escaped, so a value can never end the line or the
// string; U+2028 and U+2029 are escaped for JavaScript consumers; bytes that
// are not UTF-8 become U+FFFD (the character itself, not an escape), and
// the record keeps the exact bytes in fsaudit.raw_bytes (see raw.go).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"':
				b = append(b, `\"`...)
			case '\\':
				b = append(b, `\\`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...) // as itself, so that reading and writing again changes nothing
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
