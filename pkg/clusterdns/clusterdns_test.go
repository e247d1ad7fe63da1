package clusterdns

import (
	"reflect"
	"testing"
)

func TestWriteRecordsIsReadBack(t *testing.T) {
	dir := t.TempDir()
	rec := Records{Domain: ClusterDomain, A: map[string][]string{"a.default.svc.cluster.local.": {"10.0.0.1"}}}
	if err := WriteRecords(dir, rec); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecords(dir + "/" + RecordsFile)
	if err != nil || !reflect.DeepEqual(got.A, rec.A) {
		t.Errorf("read back %+v, %v", got, err)
	}
}
