package main

import (
	"errors"
	"testing"

	"github.com/kplay-dev/kplay/pkg/logs"
)

func TestLogRotationFlags(t *testing.T) {
	for _, tc := range []struct {
		size  string
		files int
		want  logs.Rotation
		bad   bool
	}{
		{size: "10Mi", files: 5, want: logs.Rotation{MaxSize: 10 << 20, MaxFiles: 5}},
		{size: "500Ki", files: 2, want: logs.Rotation{MaxSize: 500 << 10, MaxFiles: 2}},
		{size: "1M", files: 3, want: logs.Rotation{MaxSize: 1000000, MaxFiles: 3}},
		{size: "4096", files: 5, want: logs.Rotation{MaxSize: 4096, MaxFiles: 5}},
		{size: "ten megs", files: 5, bad: true},
		{size: "0", files: 5, bad: true},
		{size: "-1Mi", files: 5, bad: true},
		{size: "10Mi", files: 1, bad: true},
	} {
		got, err := logRotation(&globalOptions{LogMaxSize: tc.size, LogMaxFiles: tc.files})
		var ue usageError
		switch {
		case tc.bad && !errors.As(err, &ue):
			t.Errorf("--log-max-size=%s --log-max-files=%d: %v, want a usage error", tc.size, tc.files, err)
		case !tc.bad && (err != nil || got != tc.want):
			t.Errorf("--log-max-size=%s --log-max-files=%d = %+v, %v, want %+v", tc.size, tc.files, got, err, tc.want)
		}
	}
}
