package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// jsonRecord mirrors the json format, for reading records back (replay).
type jsonRecord struct {
	Timestamp *string `json:"@timestamp"`
	Event     *struct {
		Action   string  `json:"action"`
		ID       string  `json:"id"`
		Sequence *uint64 `json:"sequence"`
		Created  *string `json:"created"`
		End      *string `json:"end"`
	} `json:"event"`
	File *struct {
		Path       string  `json:"path"`
		Name       string  `json:"name"`
		Directory  string  `json:"directory"`
		TargetPath string  `json:"target_path"`
		Inode      string  `json:"inode"`
		Device     string  `json:"device"`
		Mode       string  `json:"mode"`
		Type       string  `json:"type"`
		UID        *string `json:"uid"`
		GID        *string `json:"gid"`
		Owner      string  `json:"owner"`
		Group      string  `json:"group"`
		Size       *uint64 `json:"size"`
		Mtime      *string `json:"mtime"`
		Accessed   *string `json:"accessed"`
	} `json:"file"`
	Process *struct {
		PID      uint32 `json:"pid"`
		EntityID string `json:"entity_id"`
		Thread   struct {
			ID uint32 `json:"id"`
		} `json:"thread"`
		Name       string   `json:"name"`
		Executable string   `json:"executable"`
		Args       []string `json:"args"`
		Parent     struct {
			PID uint32 `json:"pid"`
		} `json:"parent"`
	} `json:"process"`
	User *struct {
		idName
		Effective idName  `json:"effective"`
		Group     idName  `json:"group"`
		Audit     *idName `json:"audit"`
	} `json:"user"`
	Container *struct {
		ID      string `json:"id"`
		Runtime string `json:"runtime"`
		Name    string `json:"name"`
		Image   struct {
			Name string `json:"name"`
		} `json:"image"`
	} `json:"container"`
	Orchestrator *struct {
		Namespace string `json:"namespace"`
		Resource  struct {
			Name string `json:"name"`
			ID   string `json:"id"`
		} `json:"resource"`
	} `json:"orchestrator"`
	Host *struct {
		Name string `json:"name"`
		ID   string `json:"id"`
		Boot struct {
			ID string `json:"id"`
		} `json:"boot"`
	} `json:"host"`
	Agent *struct {
		Version     string `json:"version"`
		ID          string `json:"id"`
		EphemeralID string `json:"ephemeral_id"`
	} `json:"agent"`
	FSAudit *struct {
		Hook           string   `json:"hook"`
		Bytes          uint64   `json:"bytes"`
		Writes         uint64   `json:"writes"`
		Offset         uint64   `json:"offset"`
		HostPath       string   `json:"host_path"`
		TargetHostPath string   `json:"target_host_path"`
		PathTruncated  bool     `json:"path_truncated"`
		PathUnresolved bool     `json:"path_unresolved"`
		Deleted        bool     `json:"deleted"`
		Links          uint32   `json:"links"`
		Incomplete     []string `json:"incomplete"`
		Via            string   `json:"via"`
		Xattr          *struct {
			Name string `json:"name"`
		} `json:"xattr"`
		RenameFlags []string `json:"rename_flags"`
		FileType    string   `json:"file_type"`
		Lost        uint64   `json:"lost"`
		Seal        *struct {
			Reason     string     `json:"reason"`
			Sink       string     `json:"sink"`
			Instance   string     `json:"instance"`
			Sequence   uint64     `json:"sequence"`
			Hash       string     `json:"hash"`
			Epoch      uint64     `json:"epoch"`
			KeyID      string     `json:"key_id"`
			NextBefore *time.Time `json:"next_before"`
			MAC        string     `json:"mac"`
			Anchored   bool       `json:"anchored"`
		} `json:"seal"`
		ArgsTruncated bool              `json:"args_truncated"`
		RawBytes      map[string]string `json:"raw_bytes"`
		Replay        *struct {
			Topic     string `json:"topic"`
			Partition int    `json:"partition"`
			Offset    int64  `json:"offset"`
		} `json:"replay"`
		Chain *struct {
			Seq  uint64 `json:"seq"`
			Prev string `json:"prev"`
			Hash string `json:"hash"`
		} `json:"chain"`
	} `json:"fsaudit"`
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ErrNotARecord wraps every reason ParseJSON refuses its input.
var ErrNotARecord = errors.New("not an fsaudit record")

// ParseJSON reads one record in the json format back into r. It refuses,
// with an error wrapping ErrNotARecord, anything that is not JSON or lacks
// what every record has (@timestamp, event.action, event.id,
// event.sequence, host.name, and for events the file and the process).
// Fields it does not know are ignored, so newer records still read.
func ParseJSON(data []byte, r *Record) error {
	var j jsonRecord
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrNotARecord, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrNotARecord}, args...)...)
	}
	if j.Timestamp == nil || j.Event == nil || j.Event.Sequence == nil || j.Event.ID == "" || j.Event.Action == "" || j.Host == nil || j.Host.Name == "" || j.FSAudit == nil {
		return bad("missing @timestamp, event, host or fsaudit")
	}
	t, err := time.Parse(time.RFC3339Nano, *j.Timestamp)
	if err != nil {
		return bad("@timestamp: %v", err)
	}
	*r = Record{
		Time: t, Action: j.Event.Action, ID: j.Event.ID, Sequence: *j.Event.Sequence,
		Host: Host{Name: j.Host.Name, ID: j.Host.ID, BootID: j.Host.Boot.ID},
	}
	if a := j.Agent; a != nil {
		r.Agent = Agent{Version: a.Version, ID: a.ID, EphemeralID: a.EphemeralID}
	}
	if j.Event.End != nil {
		if r.End, err = time.Parse(time.RFC3339Nano, *j.Event.End); err != nil {
			return bad("event.end: %v", err)
		}
	}
	if j.Event.Created != nil {
		if r.Created, err = time.Parse(time.RFC3339Nano, *j.Event.Created); err != nil {
			return bad("event.created: %v", err)
		}
	}
	f := j.FSAudit
	var chain Chain
	if f.Chain != nil {
		if f.Chain.Hash == "" {
			return bad("fsaudit.chain without a hash")
		}
		chain = Chain{Seq: f.Chain.Seq, Prev: f.Chain.Prev, Hash: f.Chain.Hash}
	}
	var replay *Replay
	if f.Replay != nil {
		replay = &Replay{Topic: f.Replay.Topic, Partition: f.Replay.Partition, Offset: f.Replay.Offset}
	}
	switch r.Action {
	case ActionLost:
		r.FSAudit.Lost, r.FSAudit.Chain, r.FSAudit.Replay = f.Lost, chain, replay
		return nil
	case ActionSeal:
		if f.Seal == nil {
			return bad("a seal record without fsaudit.seal")
		}
		sl := f.Seal
		r.FSAudit.Seal = &Seal{Reason: sl.Reason, Sink: sl.Sink, Instance: sl.Instance, Sequence: sl.Sequence, Hash: sl.Hash,
			Epoch: sl.Epoch, KeyID: sl.KeyID, MAC: sl.MAC, Anchored: sl.Anchored}
		if sl.NextBefore != nil {
			r.FSAudit.Seal.NextBefore = *sl.NextBefore
		}
		r.FSAudit.Chain, r.FSAudit.Replay = chain, replay
		return nil
	}
	if j.File == nil || j.Process == nil || j.User == nil || j.File.Path == "" {
		return bad("an event without file, process or user")
	}
	r.FSAudit = FSAudit{Hook: f.Hook, Bytes: f.Bytes, Writes: f.Writes, Offset: f.Offset, HostPath: f.HostPath,
		TargetHostPath: f.TargetHostPath, PathTruncated: f.PathTruncated, PathUnresolved: f.PathUnresolved, Deleted: f.Deleted, Links: f.Links, Via: f.Via,
		RenameFlags: f.RenameFlags, Incomplete: f.Incomplete, ArgsTruncated: f.ArgsTruncated, Replay: replay, Chain: chain}
	if f.Xattr != nil {
		r.FSAudit.XattrName = f.Xattr.Name
	}
	jf := j.File
	r.File = File{Path: jf.Path, Name: jf.Name, Directory: jf.Directory, TargetPath: jf.TargetPath, Owner: jf.Owner, Group: jf.Group}
	if jf.Inode != "" || jf.Device != "" {
		if r.File.Inode, err = strconv.ParseUint(jf.Inode, 10, 64); err != nil || r.File.Inode == 0 {
			return bad("file.inode %q", jf.Inode)
		}
		maj, min, ok := strings.Cut(jf.Device, ":")
		major, err1 := strconv.ParseUint(maj, 10, 32)
		minor, err2 := strconv.ParseUint(min, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return bad("file.device %q", jf.Device)
		}
		r.File.DevMajor, r.File.DevMinor = uint32(major), uint32(minor)
	}
	for _, id := range []struct {
		s   *string
		has *bool
		v   *uint32
		key string
	}{{jf.UID, &r.File.HasUID, &r.File.UID, "file.uid"}, {jf.GID, &r.File.HasGID, &r.File.GID, "file.gid"}} {
		if id.s == nil {
			continue
		}
		v, err := strconv.ParseUint(*id.s, 10, 32)
		if err != nil {
			return bad("%s %q", id.key, *id.s)
		}
		*id.has, *id.v = true, uint32(v)
	}
	if jf.Size != nil {
		r.File.HasSize, r.File.Size = true, *jf.Size
	}
	for _, t := range []struct {
		key string
		s   *string
		t   *time.Time
	}{{"file.mtime", jf.Mtime, &r.File.Mtime}, {"file.accessed", jf.Accessed, &r.File.Accessed}} {
		if t.s == nil {
			continue
		}
		if *t.t, err = time.Parse(time.RFC3339Nano, *t.s); err != nil {
			return bad("%s: %v", t.key, err)
		}
	}
	if jf.Mode != "" || jf.Type != "" || f.FileType != "" {
		perm, err := strconv.ParseUint(jf.Mode, 8, 32)
		if err != nil || perm > 0o7777 {
			return bad("file.mode %q", jf.Mode)
		}
		name := jf.Type
		if name == "" {
			// Types ECS does not know are fsaudit's; a record made before
			// gave them in file.type.
			name = f.FileType
		}
		typ, ok := fileTypeBits[name]
		if name == "" {
			typ, ok = 0, true // a mode set (chmod): no type bits
		}
		if !ok || (jf.Type != "" && f.FileType != "") {
			return bad("file.type %q, fsaudit.file_type %q", jf.Type, f.FileType)
		}
		r.File.Mode = typ | uint32(perm)
	}
	p := j.Process
	r.Process = Process{PID: p.PID, TID: p.Thread.ID, PPID: p.Parent.PID, EntityID: p.EntityID, Name: p.Name, Executable: p.Executable, Args: p.Args}
	u := j.User
	ids := [3]uint32{}
	for i, s := range []string{u.ID, u.Effective.ID, u.Group.ID} {
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return bad("user id %q", s)
		}
		ids[i] = uint32(v)
	}
	r.User = User{ID: ids[0], Name: u.Name, EffectiveID: ids[1], EffectiveName: u.Effective.Name, GroupID: ids[2], GroupName: u.Group.Name}
	if u.Audit != nil {
		v, err := strconv.ParseUint(u.Audit.ID, 10, 32)
		if err != nil {
			return bad("user.audit.id %q", u.Audit.ID)
		}
		r.User.HasAudit, r.User.AuditID, r.User.AuditName = true, uint32(v), u.Audit.Name
	}
	if c := j.Container; c != nil {
		r.Container = Container{ID: c.ID, Runtime: c.Runtime, Name: c.Name, ImageName: c.Image.Name}
	}
	if o := j.Orchestrator; o != nil {
		r.Orchestrator = Orchestrator{Namespace: o.Namespace, ResourceName: o.Resource.Name, ResourceID: o.Resource.ID}
	}
	return restoreRaw(r, f.RawBytes)
}

var fileTypeBits = map[string]uint32{
	"file": 0o100000, "dir": 0o040000, "symlink": 0o120000, "fifo": 0o010000,
	"socket": 0o140000, "char_device": 0o020000, "block_device": 0o060000, "unknown": 0,
}
