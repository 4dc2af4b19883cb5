package record

import (
	"path"
	"strconv"
	"strings"
)

// OCSFVersion is the OCSF schema version the ocsf format follows.
const OCSFVersion = "1.3.0"

// OCSF encodes records as OCSF File System Activity events (class_uid
// 1001). Fields OCSF has no place for (fsaudit's own, the login uid, the
// pod's name) go under "unmapped", as the schema intends.
type OCSF struct{ Product Product }

// Name implements Format.
func (OCSF) Name() string { return "ocsf" }

// ocsfActivity maps event.action to the class's activity_id and name.
func ocsfActivity(action string) (int, string) {
	switch action {
	case ActionCreate:
		return 1, "Create"
	case ActionWrite, ActionTruncate, ActionMmapWrite:
		return 3, "Update"
	case ActionDelete:
		return 4, "Delete"
	case ActionRename:
		return 5, "Rename"
	case ActionChmod, ActionChown, ActionXattr, ActionUtimes:
		return 6, "Set Attributes"
	}
	return 99, "Other"
}

// ocsfFileType maps i_mode to the file object's type_id and type.
func ocsfFileType(mode uint32) (int, string) {
	switch mode & 0o170000 {
	case 0o100000:
		return 1, "Regular File"
	case 0o040000:
		return 2, "Folder"
	case 0o020000:
		return 3, "Character Device"
	case 0o060000:
		return 4, "Block Device"
	case 0o140000:
		return 5, "Local Socket"
	case 0o010000:
		return 6, "Named Pipe"
	case 0o120000:
		return 7, "Symbolic Link"
	}
	return 0, "Unknown"
}

// Append implements Format.
func (o OCSF) Append(b []byte, r *Record) []byte {
	id, name := ocsfActivity(r.Action)
	lost := Marker(r.Action) // lost and seal records: no actor, no file
	switch r.Action {
	case ActionLost:
		name = "Lost"
	case ActionSeal:
		name = "Seal"
	}
	b = append(b, `{"class_uid":1001,"class_name":"File System Activity","category_uid":1,"category_name":"System Activity","activity_id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"activity_name":`...)
	b = appendString(b, name)
	b = append(b, `,"type_uid":`...)
	b = strconv.AppendInt(b, 100100+int64(id), 10)
	// type_name is the class and the activity's own name for activity_id:
	// "Other" for 99, whatever activity_name says.
	_, canonical := ocsfActivity(r.Action)
	b = append(b, `,"type_name":`...)
	b = appendString(b, "File System Activity: "+canonical)
	if r.Action == ActionSeal {
		b = append(b, `,"severity_id":1,"severity":"Informational","status_id":1,"status":"Success","message":"audit chain sealed"`...)
	} else if lost {
		b = append(b, `,"severity_id":3,"severity":"Medium","status_id":2,"status":"Failure","message":`...)
		b = appendString(b, strconv.FormatUint(r.FSAudit.Lost, 10)+" events the kernel could not deliver")
	} else {
		b = append(b, `,"severity_id":1,"severity":"Informational","status_id":1,"status":"Success"`...)
	}
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, r.Time.UnixMilli(), 10)
	b = append(b, `,"time_dt":`...)
	b = appendTime(b, r.Time)
	if !r.End.IsZero() {
		b = append(b, `,"start_time":`...)
		b = strconv.AppendInt(b, r.Time.UnixMilli(), 10)
		b = append(b, `,"end_time":`...)
		b = strconv.AppendInt(b, r.End.UnixMilli(), 10)
	}

	// time_dt belongs to the datetime profile, which metadata names.
	b = append(b, `,"metadata":{"version":"`+OCSFVersion+`","profiles":["datetime"],"uid":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"sequence":`...)
	b = strconv.AppendUint(b, r.Sequence, 10)
	b = append(b, `,"product":{"name":`...)
	b = appendString(b, o.Product.Name)
	b = append(b, `,"vendor_name":`...)
	b = appendString(b, o.Product.Name)
	if o.Product.Version != "" {
		b = append(b, `,"version":`...)
		b = appendString(b, o.Product.Version)
	}
	b = append(b, "}}"...)

	b = append(b, `,"device":{"hostname":`...)
	b = appendString(b, r.Host.Name)
	b = append(b, `,"type_id":0,"type":"Unknown"}`...)

	if !lost {
		b = o.appendActor(b, r)
		b = append(b, `,"file":`...)
		b = appendOCSFFile(b, r.File.Path, r.File.Name, r.File.Directory, r.File.Mode)
		b = b[:len(b)-1] // the file object goes on with its identity
		if r.File.Inode != 0 {
			b = append(b, `,"uid":`...)
			b = appendString(b, strconv.FormatUint(uint64(r.File.DevMajor), 10)+":"+strconv.FormatUint(uint64(r.File.DevMinor), 10)+":"+strconv.FormatUint(r.File.Inode, 10))
		}
		if r.File.HasSize {
			b = append(b, `,"size":`...)
			b = strconv.AppendUint(b, r.File.Size, 10)
		}
		if !r.File.Mtime.IsZero() {
			b = append(b, `,"modified_time":`...)
			b = strconv.AppendInt(b, r.File.Mtime.UnixMilli(), 10)
		}
		if !r.File.Accessed.IsZero() {
			b = append(b, `,"accessed_time":`...)
			b = strconv.AppendInt(b, r.File.Accessed.UnixMilli(), 10)
		}
		if r.File.HasUID {
			b = append(b, `,"owner":{"uid":`...)
			b = appendString(b, strconv.FormatUint(uint64(r.File.UID), 10))
			if r.File.Owner != "" {
				b = append(b, `,"name":`...)
				b = appendString(b, r.File.Owner)
			}
			b = append(b, '}')
		}
		b = append(b, '}')
		if r.File.TargetPath != "" && r.Action == ActionRename {
			b = append(b, `,"file_result":`...)
			dir, base := path.Split(r.File.TargetPath)
			b = appendOCSFFile(b, r.File.TargetPath, base, strings.TrimSuffix(dir, "/"), r.File.Mode)
		}
	}

	b = append(b, `,"unmapped":{"fsaudit":{`...)
	switch r.Action {
	case ActionLost:
		b = append(b, `"lost":`...)
		b = strconv.AppendUint(b, r.FSAudit.Lost, 10)
	case ActionSeal:
		b = appendSeal(b, r.FSAudit.Seal)
	default:
		b = appendFSAuditFields(b, r.Action, &r.FSAudit)
		b = appendRawBytes(b, r)
		if r.File.TargetPath != "" && r.Action != ActionRename {
			b = append(b, `,"target_path":`...)
			b = appendString(b, r.File.TargetPath)
		}
		if r.File.HasGID {
			b = append(b, `,"file_gid":`...)
			b = appendString(b, strconv.FormatUint(uint64(r.File.GID), 10))
		}
	}
	if r.FSAudit.Replay != nil {
		b = AppendReplay(b, r.FSAudit.Replay)
	}
	b = append(b, `,"event_action":`...)
	b = appendString(b, r.Action)
	b = append(b, '}')
	if r.Host.BootID != "" {
		b = append(b, `,"host":{"boot":{"id":`...)
		b = appendString(b, r.Host.BootID)
		b = append(b, "}}"...)
	}
	if !lost && r.User.HasAudit {
		b = append(b, `,"user":{"audit":{`...)
		b = appendIDName(b, r.User.AuditID, r.User.AuditName)
		b = append(b, "}}"...)
	}
	if o := &r.Orchestrator; !lost && (o.Namespace != "" || o.ResourceName != "") {
		b = append(b, `,"orchestrator":{"namespace":`...)
		b = appendString(b, o.Namespace)
		b = append(b, `,"resource":{"type":"pod","name":`...)
		b = appendString(b, o.ResourceName)
		b = append(b, "}}"...)
	}
	return append(b, "}}"...)
}

// appendOCSFFile appends an OCSF file object.
func appendOCSFFile(b []byte, p, name, dir string, mode uint32) []byte {
	b = append(b, `{"path":`...)
	b = appendString(b, p)
	b = append(b, `,"name":`...)
	b = appendString(b, name)
	b = append(b, `,"parent_folder":`...)
	b = appendString(b, dir)
	id, typ := ocsfFileType(mode)
	b = append(b, `,"type_id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"type":`...)
	b = appendString(b, typ)
	return append(b, '}')
}

// appendActor appends the writing process, its user and its container.
func (o OCSF) appendActor(b []byte, r *Record) []byte {
	p := &r.Process
	b = append(b, `,"actor":{"process":{"pid":`...)
	b = strconv.AppendUint(b, uint64(p.PID), 10)
	b = append(b, `,"tid":`...)
	b = strconv.AppendUint(b, uint64(p.TID), 10)
	b = append(b, `,"name":`...)
	b = appendString(b, p.Name)
	if p.Executable != "" {
		dir, base := path.Split(p.Executable)
		b = append(b, `,"file":`...)
		b = appendOCSFFile(b, p.Executable, base, strings.TrimSuffix(dir, "/"), 0o100000)
	}
	if len(p.Args) > 0 {
		b = append(b, `,"cmd_line":`...)
		b = appendString(b, QuoteArgs(p.Args))
	}
	b = append(b, `,"parent_process":{"pid":`...)
	b = strconv.AppendUint(b, uint64(p.PPID), 10)
	b = append(b, `},"user":`...)
	b = appendOCSFUser(b, r.User.EffectiveID, r.User.EffectiveName)
	if c := &r.Container; c.ID != "" {
		b = append(b, `,"container":{"uid":`...)
		b = appendString(b, c.ID)
		b = appendNameImage(b, c)
		if c.Runtime != "" {
			b = append(b, `,"runtime":`...)
			b = appendString(b, c.Runtime)
		}
		if r.Orchestrator.ResourceID != "" {
			b = append(b, `,"orchestrator":"kubernetes","pod_uuid":`...)
			b = appendString(b, r.Orchestrator.ResourceID)
		}
		b = append(b, '}')
	}
	b = append(b, `},"user":`...)
	b = appendOCSFUser(b, r.User.ID, r.User.Name)
	return append(b, '}')
}

func appendOCSFUser(b []byte, id uint32, name string) []byte {
	b = append(b, `{"uid":"`...)
	b = strconv.AppendUint(b, uint64(id), 10)
	b = append(b, '"')
	if name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, name)
	}
	return append(b, '}')
}
