package plan

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// A pod may use the ConfigMaps and Secrets an earlier `up` stored; the files' own
// objects of the same name win, and a stored object of another namespace is not seen.
func TestStoredReferences(t *testing.T) {
	storedSecret := *secretObj("db", map[string]string{"password": "stored"})
	storedSecret.StringData = map[string]string{"user": "admin"}
	otherNS := *secretObj("only-elsewhere", map[string]string{"password": "x"})
	otherNS.Namespace = "other"
	opts := testOpts
	opts.StoredSecrets = []corev1.Secret{storedSecret, otherNS}
	opts.StoredConfigMaps = []corev1.ConfigMap{*configMapObj("cfg", map[string]string{"mode": "stored", "level": "debug"})}

	pod := func(env []corev1.EnvVar, from []corev1.EnvFromSource, vols ...corev1.Volume) *corev1.Pod {
		p := podObj("app", corev1.Container{Name: "c", Image: "busybox", Env: env, EnvFrom: from})
		p.Spec.Volumes = vols
		for _, v := range vols {
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: "/" + v.Name})
		}
		return p
	}
	tests := []struct {
		name    string
		objs    []runtime.Object
		want    []string // env
		files   []string // the secret volume's files, "path=data"
		wantErr string
	}{
		{
			name: "secretKeyRef, envFrom and a secret volume from the store",
			objs: []runtime.Object{pod(
				[]corev1.EnvVar{{Name: "PW", ValueFrom: secretKey("db", "password", false)}},
				[]corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db"}}},
			)},
			want:  []string{"level=debug", "mode=stored", "PW=stored"},
			files: []string{"password=stored", "user=admin"},
		},
		{
			name: "the files' objects win over stored ones",
			objs: []runtime.Object{
				secretObj("db", map[string]string{"password": "from-file"}),
				configMapObj("cfg", map[string]string{"mode": "from-file"}),
				pod(
					[]corev1.EnvVar{{Name: "PW", ValueFrom: secretKey("db", "password", false)}},
					[]corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
					corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db"}}},
				),
			},
			want:  []string{"mode=from-file", "PW=from-file"},
			files: []string{"password=from-file"},
		},
		{
			name:    "a stored object of another namespace is not found",
			objs:    []runtime.Object{pod([]corev1.EnvVar{{Name: "PW", ValueFrom: secretKey("only-elsewhere", "password", false)}}, nil)},
			wantErr: `pod "default/app": container "c": env "PW": secret "only-elsewhere" not found: declare it in the files or apply it first with kplay up -f FILE`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(objects(tt.objs...), opts)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error\n got %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pp := p.Pods[0]
			r, err := pp.Containers[0].Resolve("10.1.0.7")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Env, tt.want) {
				t.Errorf("env\n got %q\nwant %q", r.Env, tt.want)
			}
			for _, e := range pp.Containers[0].Env {
				if e.Name == "PW" && e.Source != EnvSecret {
					t.Errorf("PW from a stored Secret is %v, want EnvSecret (never printed)", e.Source)
				}
			}
			var files []string
			for _, v := range pp.Volumes {
				if v.Secret != nil {
					for _, f := range v.Secret.Files {
						files = append(files, f.Path+"="+string(f.Data))
					}
				}
			}
			if !slices.Equal(files, tt.files) {
				t.Errorf("secret volume files\n got %q\nwant %q", files, tt.files)
			}
		})
	}
}

// A Secret stored by one `up` and changed by a later one changes the pods that use it
// only in their volume data hash: up updates them in place.
func TestStoredSecretChangeIsAVolumeUpdate(t *testing.T) {
	p := podObj("app", corev1.Container{Name: "c", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "s", MountPath: "/s"}}})
	p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db"}}}}
	build := func(value string) PodPlan {
		opts := testOpts
		opts.StoredSecrets = []corev1.Secret{*secretObj("db", map[string]string{"password": value})}
		plan, err := Build(objects(p.DeepCopy()), opts)
		if err != nil {
			t.Fatal(err)
		}
		return plan.Pods[0]
	}
	a, b := build("one"), build("two")
	if a.Hash != b.Hash || a.VolumeDataHash == b.VolumeDataHash {
		t.Errorf("hash %s -> %s, volume data hash %s -> %s: want the same spec hash and a new volume data hash",
			a.Hash, b.Hash, a.VolumeDataHash, b.VolumeDataHash)
	}
}

// The plan lists the objects `up` stores, with their namespace and absolute source.
func TestPlanObjects(t *testing.T) {
	claim := claimObj("data")
	claim.Namespace = "other"
	p := mustBuild(t, secretObj("db", nil), podObj("app", ctr("c")), configMapObj("cfg", nil), claim)
	var got []string
	for _, o := range p.Objects {
		m := o.Object.(interface {
			GetNamespace() string
			GetName() string
		})
		got = append(got, o.Object.GetObjectKind().GroupVersionKind().Kind+" "+m.GetNamespace()+"/"+m.GetName()+" "+o.Source)
	}
	want := []string{"Secret default/db /srv/app/app.yaml", "ConfigMap default/cfg /srv/app/app.yaml", "PersistentVolumeClaim other/data /srv/app/app.yaml"}
	if !slices.Equal(got, want) {
		t.Errorf("objects\n got %q\nwant %q", got, want)
	}
}
