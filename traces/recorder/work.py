# work.py — a malloc-heavy python3 run for the recorder's benchmarks
# (overhead.sh, end_to_end.sh): with PYTHONMALLOC=malloc every object goes
# through malloc; about 6M allocator calls building and trimming a dict of
# lists.
d = {}
for i in range(300000):
    d[str(i)] = [i, str(i) * 3, {"k": i}]
    if i % 3 == 0:
        del d[str(i // 2)]
print(len(sorted(d.keys())))
