-- What a command solver runs is the worker's to say now (iscd worker
-- --solver NAME='PROGRAM ARGS...'): the service's solvers, and the copies
-- jobs keep of them, lose the command they used to carry.

UPDATE solvers SET doc = (doc::jsonb - 'command')::json WHERE doc::jsonb ? 'command';

UPDATE jobs SET doc = jsonb_set(doc::jsonb, '{solver}', (doc::jsonb -> 'solver') - 'command')::json
WHERE (doc::jsonb -> 'solver') ? 'command';
