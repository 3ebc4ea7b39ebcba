package depot

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateProjectName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"tool", true}, {"Tool-src_2.x", true}, {"a", true}, {strings.Repeat("a", 100), true},
		{"", false}, {".", false}, {"..", false}, {"-", false}, {"a b", false}, {"a/b", false}, {"é", false},
		{strings.Repeat("a", 101), false}, {"repo.git", false}, {"Repo.GIT", false}, {"x.wiki", false}, {"x.rss", false}, {"x.atom", false},
	} {
		err := ValidateProjectName(c.name)
		if (err == nil) != c.ok {
			t.Errorf("ValidateProjectName(%q) = %v, want ok %v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateProjectName(%q) = %v, want ErrInvalid", c.name, err)
		}
	}
}
