package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

// newFileLock is the namespace of the transaction-level advisory locks,
// one per org, that creating a file takes: whether a new path overlaps a
// file or a folder depends on other rows than its own.
const newFileLock int32 = 0x69736364 // "iscd"

// File implements store.Files.
func (d *DB) File(ctx context.Context, org, path string) (store.FileEntry, error) {
	return getDoc[store.FileEntry](ctx, d.pool, "file "+path, "SELECT doc FROM files WHERE org_id = $1 AND path = $2 FOR UPDATE", org, path)
}

// ListFiles implements store.Files.
func (d *DB) ListFiles(ctx context.Context, org, dir string) ([]store.FileEntry, []store.Folder, error) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	upper := prefix[:len(prefix)-1] + "0" // '0' follows '/'
	rows, err := d.pool.Query(ctx, `SELECT path, doc FROM files WHERE org_id = $1 AND path >= $2 AND path < $3
		ORDER BY path`, org, prefix, upper)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", dir, err)
	}
	defer rows.Close()
	files, folders := []store.FileEntry{}, []store.Folder{}
	seen := map[string]bool{}
	for rows.Next() {
		var path string
		var doc []byte
		if err := rows.Scan(&path, &doc); err != nil {
			return nil, nil, err
		}
		if sub, _, nested := strings.Cut(path[len(prefix):], "/"); nested {
			if !seen[sub] {
				seen[sub] = true
				folders = append(folders, store.Folder{Path: prefix + sub})
			}
			continue
		}
		var e store.FileEntry
		if err := json.Unmarshal(doc, &e); err != nil {
			return nil, nil, err
		}
		files = append(files, e)
	}
	return files, folders, rows.Err()
}

// ListFilesPage implements store.Files: the subfolders' names, then the
// direct files, each page's rows alone sent (the subtree's rows are
// filtered in the query, on the (org_id, path) key's range).
func (d *DB) ListFilesPage(ctx context.Context, org, dir, after string, limit int) ([]store.FileEntry, []store.Folder, bool, error) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	upper := prefix[:len(prefix)-1] + "0" // '0' follows '/'
	files, folders := []store.FileEntry{}, []store.Folder{}
	if !strings.HasPrefix(after, "f") {
		// A folder sorts as its files' paths do: name + "/".
		afterSub := ""
		if p, ok := strings.CutPrefix(after, "d"); ok {
			afterSub = strings.TrimPrefix(p, prefix)
		}
		rows, err := d.pool.Query(ctx, `SELECT sub FROM (
			SELECT DISTINCT split_part(substr(path, char_length($2) + 1), '/', 1) || '/' COLLATE "C" AS sub
			FROM files WHERE org_id = $1 AND path >= $2 AND path < $3 AND strpos(substr(path, char_length($2) + 1), '/') > 0) s
			WHERE sub > $4 COLLATE "C" ORDER BY sub LIMIT $5`, org, prefix, upper, afterSub, limit+1)
		if err != nil {
			return nil, nil, false, fmt.Errorf("list %s: %w", dir, err)
		}
		subs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, nil, false, fmt.Errorf("list %s: %w", dir, err)
		}
		for _, sub := range subs {
			folders = append(folders, store.Folder{Path: prefix + strings.TrimSuffix(sub, "/")})
		}
		if len(folders) > limit {
			return files, folders[:limit], true, nil
		}
		after = ""
	}
	afterPath, _ := strings.CutPrefix(after, "f")
	left := limit - len(folders)
	rows, err := d.pool.Query(ctx, `SELECT doc FROM files WHERE org_id = $1 AND path >= $2 AND path < $3 AND path > $4
		AND strpos(substr(path, char_length($2) + 1), '/') = 0 ORDER BY path LIMIT $5`, org, prefix, upper, afterPath, left+1)
	if err != nil {
		return nil, nil, false, fmt.Errorf("list %s: %w", dir, err)
	}
	docs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, nil, false, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, doc := range docs {
		var e store.FileEntry
		if err := json.Unmarshal(doc, &e); err != nil {
			return nil, nil, false, err
		}
		files = append(files, e)
	}
	if len(files) > left {
		return files[:left], folders, true, nil
	}
	return files, folders, false, nil
}

// lockFile reads a file's entry and locks its row until tx ends; found is
// false when there is no such file.
func lockFile(ctx context.Context, tx pgx.Tx, org, path string) (e store.FileEntry, found bool, err error) {
	e, err = getDoc[store.FileEntry](ctx, tx, "file "+path, "SELECT doc FROM files WHERE org_id = $1 AND path = $2 FOR UPDATE", org, path)
	if errors.Is(err, store.ErrNotFound) {
		return e, false, nil
	}
	return e, err == nil, err
}

func putFile(ctx context.Context, tx pgx.Tx, e store.FileEntry) error {
	_, err := tx.Exec(ctx, `INSERT INTO files (org_id, path, doc) VALUES ($1, $2, $3)
		ON CONFLICT (org_id, path) DO UPDATE SET doc = excluded.doc`, e.OrgID, e.Path, mustJSON(e))
	return err
}

// UpdateFile implements store.Files. The file's row lock orders the
// transactions on one file across replicas; where there is no file yet,
// the org's creation lock is taken first, so two new paths that would
// overlap cannot both pass PutFile's check.
func (d *DB) UpdateFile(ctx context.Context, org, path string, fn func(store.FileTx, store.FileEntry, bool) error) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		e, found, err := lockFile(ctx, tx, org, path)
		if err != nil {
			return err
		}
		if !found {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", newFileLock, org); err != nil {
				return err
			}
			// Another transaction may have created it while this one waited.
			if e, found, err = lockFile(ctx, tx, org, path); err != nil {
				return err
			}
		}
		return fn(fileTx{ctx: ctx, tx: tx, org: org, path: path, found: found}, e, found)
	})
}

// fileTx is store.FileTx in a PostgreSQL transaction.
type fileTx struct {
	ctx       context.Context
	tx        pgx.Tx
	org, path string
	found     bool // the entry existed when the transaction began
}

func (f fileTx) Version(n int) (store.Version, error) {
	return getDoc[store.Version](f.ctx, f.tx, fmt.Sprintf("version %d of %s", n, f.path),
		"SELECT doc FROM versions WHERE org_id = $1 AND path = $2 AND number = $3", f.org, f.path, n)
}

func (f fileTx) PutVersion(v store.Version, manifest []byte) error {
	if manifest == nil {
		manifest = []byte{}
	}
	_, err := f.tx.Exec(f.ctx, `INSERT INTO versions (org_id, path, number, doc, manifest) VALUES ($1, $2, $3, $4, $5)`,
		f.org, f.path, v.Number, mustJSON(v), manifest)
	return err
}

func (f fileTx) PutFile(e store.FileEntry) error {
	if !f.found {
		if err := checkNoOverlap(f.ctx, f.tx, f.org, f.path); err != nil {
			return err
		}
	}
	e.OrgID, e.Path = f.org, f.path
	return putFile(f.ctx, f.tx, e)
}

// checkNoOverlap refuses a new file where a folder is (files below path)
// or below another file (a file at one of its parent paths).
func checkNoOverlap(ctx context.Context, tx pgx.Tx, org, path string) error {
	var below string
	err := tx.QueryRow(ctx, "SELECT path FROM files WHERE org_id = $1 AND path >= $2 AND path < $3 LIMIT 1",
		org, path+"/", path+"0").Scan(&below)
	if err == nil {
		return fmt.Errorf("%s: %w: it is a folder", path, store.ErrConflict)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var parents []string
	for dir := path; ; {
		i := strings.LastIndexByte(dir, '/')
		if i <= 0 {
			break
		}
		dir = dir[:i]
		parents = append(parents, dir)
	}
	if len(parents) == 0 {
		return nil
	}
	var file string
	err = tx.QueryRow(ctx, "SELECT path FROM files WHERE org_id = $1 AND path = ANY($2) LIMIT 1", org, parents).Scan(&file)
	if err == nil {
		return fmt.Errorf("%s: %w: %s is a file", path, store.ErrConflict, file)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return nil
}

// Versions implements store.Files: oldest first.
func (d *DB) Versions(ctx context.Context, org, path string) ([]store.Version, error) {
	var out []store.Version
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if _, err := getDoc[store.FileEntry](ctx, tx, "file "+path, "SELECT doc FROM files WHERE org_id = $1 AND path = $2", org, path); err != nil {
			return err
		}
		var err error
		out, err = listDocs[store.Version](ctx, tx, "SELECT doc FROM versions WHERE org_id = $1 AND path = $2 ORDER BY number", org, path)
		return err
	})
	return out, err
}

// Manifest implements store.Files.
func (d *DB) Manifest(ctx context.Context, org, path string, n int) ([]byte, error) {
	var out []byte
	err := d.pool.QueryRow(ctx, "SELECT manifest FROM versions WHERE org_id = $1 AND path = $2 AND number = $3", org, path, n).Scan(&out)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("version %d of %s: %w", n, path, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("version %d of %s: %w", n, path, err)
	}
	return out, nil
}

// Manifests implements store.Files.
func (d *DB) Manifests(ctx context.Context, org string, fn func([]byte) error) error {
	rows, err := d.pool.Query(ctx, "SELECT manifest FROM versions WHERE org_id = $1 ORDER BY path, number", org)
	if err != nil {
		return fmt.Errorf("manifests of %s: %w", org, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m []byte
		if err := rows.Scan(&m); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}
