package record

import (
	"strconv"
	"strings"
	"time"
)

// CEF encodes records as ArcSight Common Event Format lines:
//
//	CEF:0|fsaudit|fsaudit|VERSION|ACTION|NAME|SEVERITY|key=value ...
//
// Header fields escape '\' and '|'; extension values escape '\', '=' and
// write CR and LF as \r and \n. Other control characters and bytes that are
// not UTF-8 become U+FFFD: CEF has no escape for them, and a raw one could
// end the line or confuse a parser. The JSON format keeps them exactly.
type CEF struct{ Product Product }

// Name implements Format.
func (CEF) Name() string { return "cef" }

func cefHeaderEscape(b []byte, c byte) ([]byte, bool) {
	switch c {
	case '\\', '|':
		return append(b, '\\', c), true
	}
	return b, false
}

func cefValueEscape(b []byte, c byte) ([]byte, bool) {
	switch c {
	case '\\', '=':
		return append(b, '\\', c), true
	case '\n':
		return append(b, `\n`...), true
	case '\r':
		return append(b, `\r`...), true
	}
	return b, false
}

func cefName(action string) string {
	switch action {
	case ActionWrite:
		return "File written"
	case ActionCreate:
		return "File created"
	case ActionTruncate:
		return "File truncated"
	case ActionRename:
		return "File renamed"
	case ActionDelete:
		return "File deleted"
	case ActionChmod:
		return "File mode changed"
	case ActionChown:
		return "File owner changed"
	case ActionXattr:
		return "File extended attributes changed"
	case ActionMmapWrite:
		return "File mapped for writing"
	case ActionUtimes:
		return "File times set"
	case ActionLost:
		return "Audit events lost"
	case ActionSeal:
		return "Audit chain sealed"
	}
	return "File changed"
}

// cefDetail says in words what CEF has no key for: how a file was made or
// removed, a link's target, an attribute's name, a new owner.
func cefDetail(r *Record) string {
	var parts []string
	if r.FSAudit.Via != "" {
		parts = append(parts, "via "+r.FSAudit.Via)
	}
	if r.Action != ActionRename && r.File.TargetPath != "" {
		parts = append(parts, "target "+r.File.TargetPath)
	}
	if r.FSAudit.XattrName != "" {
		parts = append(parts, "attribute "+r.FSAudit.XattrName)
	}
	if r.File.HasUID {
		parts = append(parts, "owner "+strconv.FormatUint(uint64(r.File.UID), 10))
	}
	if r.File.HasGID {
		parts = append(parts, "group "+strconv.FormatUint(uint64(r.File.GID), 10))
	}
	if len(r.FSAudit.RenameFlags) > 0 {
		parts = append(parts, "flags "+strings.Join(r.FSAudit.RenameFlags, ","))
	}
	if !r.File.Accessed.IsZero() {
		parts = append(parts, "accessed "+r.File.Accessed.UTC().Format(time.RFC3339Nano))
	}
	if raw := rawPairs(r); raw != "" {
		parts = append(parts, "raw bytes "+raw)
	}
	if rp := r.FSAudit.Replay; rp != nil {
		parts = append(parts, "replayed from "+rp.Topic+"/"+strconv.Itoa(rp.Partition)+"/"+strconv.FormatInt(rp.Offset, 10))
	}
	return strings.Join(parts, "; ")
}

// Append implements Format.
func (c CEF) Append(b []byte, r *Record) []byte {
	b = append(b, "CEF:0|"...)
	b = AppendSanitized(b, c.Product.Name, cefHeaderEscape)
	b = append(b, '|')
	b = AppendSanitized(b, c.Product.Name, cefHeaderEscape)
	b = append(b, '|')
	b = AppendSanitized(b, c.Product.Version, cefHeaderEscape)
	b = append(b, '|')
	b = AppendSanitized(b, r.Action, cefHeaderEscape)
	b = append(b, '|')
	b = AppendSanitized(b, cefName(r.Action), cefHeaderEscape)
	if r.Action == ActionLost {
		b = append(b, "|7|"...)
	} else {
		b = append(b, "|3|"...)
	}
	b = append(b, "rt="...)
	b = strconv.AppendInt(b, r.Time.UnixMilli(), 10)
	kv := func(key, value string) {
		b = append(b, ' ')
		b = append(b, key...)
		b = append(b, '=')
		b = AppendSanitized(b, value, cefValueEscape)
	}
	num := func(key string, v uint64) {
		b = append(b, ' ')
		b = append(b, key...)
		b = append(b, '=')
		b = strconv.AppendUint(b, v, 10)
	}
	if !r.End.IsZero() {
		num("start", uint64(r.Time.UnixMilli()))
		num("end", uint64(r.End.UnixMilli()))
	}
	kv("externalId", r.ID)
	num("cn2", r.Sequence)
	kv("cn2Label", "sequence")
	kv("dvchost", r.Host.Name)
	kv("act", r.Action)
	if r.Action == ActionLost {
		num("cnt", r.FSAudit.Lost)
		return b
	}
	if r.Action == ActionSeal {
		if sl := r.FSAudit.Seal; sl != nil {
			kv("msg", "seal ("+sl.Reason+") of sink "+sl.Sink+" through chain sequence "+strconv.FormatUint(sl.Sequence, 10))
		}
		return b
	}
	if r.Action == ActionRename && r.File.TargetPath != "" {
		kv("oldFilePath", r.File.Path)
		kv("filePath", r.File.TargetPath)
	} else {
		kv("filePath", r.File.Path)
	}
	kv("fname", r.File.Name)
	if r.File.Inode != 0 {
		num("fileId", r.File.Inode)
	}
	if r.File.HasSize {
		num("fsize", r.File.Size)
	}
	if !r.File.Mtime.IsZero() {
		num("fileModificationTime", uint64(r.File.Mtime.UnixMilli()))
	}
	if d := cefDetail(r); d != "" {
		kv("msg", d)
	}
	if r.File.Mode != 0 {
		kv("fileType", fileType(r.File.Mode))
		kv("filePermission", strconv.FormatUint(uint64(r.File.Mode&0o7777), 8))
	}
	num("spid", uint64(r.Process.PID))
	kv("sproc", r.Process.Name)
	num("suid", uint64(r.User.ID))
	if r.User.Name != "" {
		kv("suser", r.User.Name)
	}
	num("cn1", r.FSAudit.Bytes)
	kv("cn1Label", "bytes")
	num("cn3", r.FSAudit.Writes)
	kv("cn3Label", "writes")
	if r.Process.Executable != "" {
		kv("cs1", r.Process.Executable)
		kv("cs1Label", "executable")
	}
	if r.Container.ID != "" {
		kv("cs2", r.Container.ID)
		kv("cs2Label", "containerId")
		if r.Container.ImageName != "" {
			kv("cs3", r.Container.ImageName)
			kv("cs3Label", "containerImage")
		}
	}
	if o := &r.Orchestrator; o.ResourceName != "" {
		kv("cs4", o.Namespace+"/"+o.ResourceName)
		kv("cs4Label", "pod")
	}
	if r.FSAudit.HostPath != "" {
		kv("cs5", r.FSAudit.HostPath)
		kv("cs5Label", "hostPath")
	}
	if r.User.HasAudit {
		login := strconv.FormatUint(uint64(r.User.AuditID), 10)
		if r.User.AuditName != "" {
			login += " " + r.User.AuditName
		}
		kv("cs6", login)
		kv("cs6Label", "loginUser")
	}
	if len(r.Process.Args) > 0 {
		kv("flexString2", QuoteArgs(r.Process.Args))
		kv("flexString2Label", "args")
	}
	var flags []string
	if r.FSAudit.Deleted {
		flags = append(flags, "deleted")
	}
	if r.FSAudit.Links > 1 {
		flags = append(flags, "hard_linked")
	}
	if r.FSAudit.PathTruncated {
		flags = append(flags, "path_truncated")
	}
	if r.FSAudit.PathUnresolved {
		flags = append(flags, "path_unresolved")
	}
	for _, s := range r.FSAudit.Incomplete {
		flags = append(flags, "incomplete_"+s)
	}
	if len(flags) > 0 {
		kv("flexString1", strings.Join(flags, ","))
		kv("flexString1Label", "flags")
	}
	return b
}
