package seccomp

import "errors"

// ErrInvalidProfile is the class of every error caused by the content of a
// profile (as opposed to I/O or libseccomp failures). Test with errors.Is.
var ErrInvalidProfile = errors.New("invalid seccomp profile")

// ProfileError reports a problem with one field of a profile.
type ProfileError struct {
	// Field is the JSON path of the offending field, such as
	// "syscalls[3].args[0].op"; empty when the problem is the whole document.
	Field string
	Err   error
}

func (e *ProfileError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *ProfileError) Unwrap() error { return e.Err }

// Is makes every ProfileError match ErrInvalidProfile.
func (e *ProfileError) Is(target error) bool { return target == ErrInvalidProfile }

// invalid returns a *ProfileError for field.
func invalid(field string, err error) error {
	return &ProfileError{Field: field, Err: err}
}
