package usage

import (
	"fmt"
	"time"
)

// UserState is one user as a collector saw it at At: a snapshot, not an
// event. Sources should report every user (including disabled and trashed
// ones) in each sample, and at least once a month: a month only knows what
// was observed inside it.
type UserState struct {
	UserID UserID
	Role   Role
	// Enabled is whether the user could log on at At.
	Enabled bool
	// Locked is whether an administrator had locked the user at At. A lock
	// at any time in a month takes the user out of that month's user counts.
	Locked bool
	// InTrash is reported for completeness; seed 004 counts trashed users
	// like any other ("All metrics include users in the trash").
	InTrash bool
	At      time.Time
}

// Validate reports whether s is a well-formed snapshot.
func (s UserState) Validate() error {
	if err := s.UserID.Validate(); err != nil {
		return err
	}
	if !s.Role.Valid() {
		return fmt.Errorf("%w: user state role %v", ErrInvalidObservation, s.Role)
	}
	if !validTime(s.At) {
		return fmt.Errorf("%w: user state time %v out of range", ErrInvalidObservation, s.At)
	}
	return nil
}

// Logon is one logon session as a collector saw it at At. A session is
// identified by (UserID, Start); reporting it again with a later At or an
// End only extends what is known of it.
type Logon struct {
	UserID UserID
	// Role is the user's role when the session started.
	Role Role
	// Locked is whether the user was locked when the session started. Seed
	// 004: "The locked status of the user is counted as what it was when
	// they logged on", so a lock during the session does not remove it from
	// the concurrent maximum or the logon minutes.
	Locked bool
	Start  time.Time
	// End is when the session ended; zero means it was still open at At.
	End time.Time
	At  time.Time
}

// Validate reports whether l is a well-formed session report.
func (l Logon) Validate() error {
	if err := l.UserID.Validate(); err != nil {
		return err
	}
	if !l.Role.Valid() {
		return fmt.Errorf("%w: logon role %v", ErrInvalidObservation, l.Role)
	}
	if !validTime(l.Start) {
		return fmt.Errorf("%w: logon start %v out of range", ErrInvalidObservation, l.Start)
	}
	if !validTime(l.At) {
		return fmt.Errorf("%w: logon sample time %v out of range", ErrInvalidObservation, l.At)
	}
	if !l.End.IsZero() {
		if !validTime(l.End) {
			return fmt.Errorf("%w: logon end %v out of range", ErrInvalidObservation, l.End)
		}
		if l.End.Before(l.Start) {
			return fmt.Errorf("%w: logon ends (%v) before it starts (%v)", ErrInvalidObservation, l.End, l.Start)
		}
	}
	return nil
}

// span returns the session as known: [Start, End) when it ended, else
// [Start, At). A sample taken a little before Start (clock skew between the
// product and the collector) yields an empty span rather than an error.
func (l Logon) span() (start, end int64) {
	start = l.Start.UnixNano()
	if l.End.IsZero() {
		end = l.At.UnixNano()
	} else {
		end = l.End.UnixNano()
	}
	return start, max(start, end)
}

// Facts are the installation-wide values a collector saw at At.
// Point-in-time metrics (commission items, process fields, latest user and
// case counts) come from the month's latest Facts, so every sample must be
// complete rather than a partial update.
type Facts struct {
	At time.Time
	// FileLimitMB is the file attachment limit in MB.
	FileLimitMB int64
	// CommissionModuleOn says whether the commission module is enabled.
	CommissionModuleOn bool
	// CommissionItems is the number of items in the most recently closed
	// commission run.
	CommissionItems int64
	// ProcessModuleOn says whether process management is enabled.
	ProcessModuleOn bool
	// ProcessFields is the total number of fields across all forms,
	// including any in the trash.
	ProcessFields int64
	// ProcessFieldsInTrash is how many of ProcessFields are in the trash or
	// belong to a form in the trash. A source that already excludes trash
	// reports 0 here.
	ProcessFieldsInTrash int64
	// UserCount and CaseCount are seed 000's counts for the installation.
	UserCount int64
	CaseCount int64
}

// Validate reports whether f is a well-formed sample.
func (f Facts) Validate() error {
	if !validTime(f.At) {
		return fmt.Errorf("%w: facts time %v out of range", ErrInvalidObservation, f.At)
	}
	for _, v := range []struct {
		name string
		n    int64
	}{
		{"file limit", f.FileLimitMB},
		{"commission items", f.CommissionItems},
		{"process fields", f.ProcessFields},
		{"process fields in trash", f.ProcessFieldsInTrash},
		{"user count", f.UserCount},
		{"case count", f.CaseCount},
	} {
		if v.n < 0 {
			return fmt.Errorf("%w: facts %s is negative (%d)", ErrInvalidObservation, v.name, v.n)
		}
	}
	if f.ProcessFieldsInTrash > f.ProcessFields {
		return fmt.Errorf("%w: facts process fields in trash (%d) exceed process fields (%d)",
			ErrInvalidObservation, f.ProcessFieldsInTrash, f.ProcessFields)
	}
	return nil
}
