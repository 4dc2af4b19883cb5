package record

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CEF encodes records as ArcSight Common Event Format lines:
//
//	CEF:0|fsaudit|fsaudit|VERSION|ACTION|NAME|SEVERITY|key=value ...
//
// Header fields escape '\' and '|'; extension values escape '\', '=' and
// write CR and LF as \r and \n, and keep every other character, U+2028
// and U+2029 too, as the JSON format does. The C0 control characters and
// DEL, for which CEF has no escape and which could end a line or confuse a
// parser, and bytes that are not UTF-8 become U+FFFD; msg then carries the
// exact bytes of a name that is not UTF-8 ("raw bytes").
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

// cefPathMax is the longest filePath and oldFilePath of the CEF extension
// dictionary, in characters.
const cefPathMax = 1023

// appendCEFPath writes key=path, cut to cefPathMax characters (the last
// one "…") when longer; it tells whether it cut. The json format has the
// path whole.
func appendCEFPath(b []byte, key, path string) ([]byte, bool) {
	cut := utf8.RuneCountInString(path) > cefPathMax
	if cut {
		n := 0
		for i := range path {
			if n == cefPathMax-1 {
				path = path[:i] + "…"
				break
			}
			n++
		}
	}
	b = append(b, ' ')
	b = append(b, key...)
	b = append(b, '=')
	return appendCEFValue(b, path), cut
}

// appendCEFValue writes an extension value: '\' and '=' escaped, CR and
// LF as \r and \n, C0 controls, DEL and bytes that are not UTF-8 as
// U+FFFD, every other character as it is.
func appendCEFValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			// A run of bytes past ASCII: valid UTF-8 as it is, the rest
			// as U+FFFD.
			j := i
			for j < len(s) && s[j] >= utf8.RuneSelf {
				j++
			}
			b = AppendValidUTF8(b, s[i:j])
			i = j - 1
			continue
		}
		if nb, done := cefValueEscape(b, c); done {
			b = nb
		} else if c < 0x20 || c == 0x7f {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, c)
		}
	}
	return b
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
		b = appendCEFValue(b, value)
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
	kv("outcome", eventOutcome(r.Action))
	if Marker(r.Action) {
		kv("cat", "audit")
	} else {
		kv("cat", "file")
	}
	if r.Action == ActionLost {
		// cnt would say the same event was seen N times: these are N
		// events, each its own.
		num("cn1", r.FSAudit.Lost)
		kv("cn1Label", "lost")
		return b
	}
	if r.Action == ActionSeal {
		if sl := r.FSAudit.Seal; sl != nil {
			kv("msg", "seal ("+sl.Reason+") of sink "+sl.Sink+" through chain sequence "+strconv.FormatUint(sl.Sequence, 10))
		}
		return b
	}
	// filePath and fname name the file as it is after the change: for a
	// rename, its new path, with oldFilePath and oldFileName the old.
	path, name, cut := r.File.Path, r.File.Name, false
	if r.Action == ActionRename && r.File.TargetPath != "" {
		var oldCut bool
		b, oldCut = appendCEFPath(b, "oldFilePath", r.File.Path)
		kv("oldFileName", r.File.Name)
		cut = oldCut
		path = r.File.TargetPath
		name = path[strings.LastIndexByte(path, '/')+1:]
	}
	var newCut bool
	b, newCut = appendCEFPath(b, "filePath", path)
	cut = cut || newCut
	kv("fname", name)
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
	if cut {
		flags = append(flags, "path_cut")
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
