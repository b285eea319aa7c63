#!/usr/bin/env bash
# Makes the bundled sample dataset in MELD.Raw's own layout (Samples/MELD.Raw): three CSVs in MELD's exact format
# (CRLF, quoted times, 1- and 2-digit hours, a cp1252 C1 character as in the tarball's CSVs) and short H.264 + AAC
# clips whose audio is espeak-ng speech of the utterance. The lines are invented; nothing comes from MELD itself.
# Needs: ffmpeg, espeak-ng (Debian). Output is committed; re-running regenerates it (not bit-identical).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/Samples/MELD.Raw"
rm -rf "$out"; mkdir -p "$out/train/train_splits" "$out/dev_splits_complete" "$out/output_repeated_splits_test"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# split|dia|utt|speaker|emotion|sentiment|season|episode|start|end|text|audio (rate:channels)
rows=$(cat <<'ROWS'
train|0|0|Chandler|neutral|neutral|8|21|00:16:16,059|00:16:21,731|Also I was the point person on my company's transition from the KL-5 to GR-6 system.|48000:2
train|0|1|The Interviewer|neutral|neutral|8|21|00:16:21,940|00:16:23,442|You must've had your hands full.|48000:2
train|0|2|Chandler|joy|positive|8|21|0:16:23,442|0:16:26,389|That I did. That I did.|44100:1
train|0|3|The Interviewer|surprise|negative|8|21|00:16:26,820|00:16:29,572|"So let's talk a little bit about your duties, ""boss""."|48000:6
train|1|0|Joey|surprise|positive|9|23|00:36:40,364|00:36:42,824|But then who? The waitress I went out with last month?|48000:2
train|1|1|Rachel|anger|negative|9|23|00:36:44,368|00:36:46,578|You know? Forget it!|48000:2
train|1|2|Joey|sadness|negative|9|23|0:36:47,5|0:36:51,5|No-no-no-no, no! Who, who were you talking about?|44100:2
train|1|3|Rachel|fear|negative|9|23|00:36:52,0|00:36:56,4|No, I, I, I, I don't, I actually don't know.|48000:2
dev|0|0|Phoebe|disgust|negative|7|9|00:16:37,625|00:16:41,212|Oh, that is so gross, I can't even look at it.|48000:2
dev|0|1|Monica|neutral|neutral|7|9|00:16:41,587|00:16:43,047|Okay.|48000:2
dev|0|2|Phoebe|joy|positive|7|9|00:16:43,505|00:16:46,425|Great, let's go then!|44100:1
test|0|0|Ross|surprise|positive|2|10|00:02:41,0|00:02:44,06|Why do all your coffee mugs have numbers on the bottom?|48000:2
test|0|1|Monica|anger|negative|2|10|0:02:44,2|0:02:47,1|Oh. That's so Monica can keep track.|48000:2
test|0|2|Ross|neutral|neutral|2|10|00:02:47,5|00:02:49,9|Okay, well, I'll see you later.|48000:2
ROWS
)

header='Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime'
for s in train dev test; do printf '%s\r\n' "$header" > "$work/$s.csv"; done
n=0
while IFS='|' read -r split dia utt speaker emo sent season ep start end text audio; do
  n=$((n+1))
  case "$split" in train) dir="$out/train/train_splits";; dev) dir="$out/dev_splits_complete";; test) dir="$out/output_repeated_splits_test";; esac
  csvtext="$text"; [[ "$text" == *,* && "$text" != \"* ]] && csvtext="\"$text\""
  # The tarball-era CSVs carry cp1252 punctuation as C1 controls: write U+0092 for the apostrophe in one row.
  [[ "$split/$dia/$utt" == "train/0/0" ]] && csvtext="${csvtext//\'/$'\xc2\x92'}"
  printf '%d,%s,%s,%s,%s,%d,%d,%d,%d,"%s","%s"\r\n' "$n" "$csvtext" "$speaker" "$emo" "$sent" "$dia" "$utt" "$season" "$ep" "$start" "$end" >> "$work/$split.csv"
  spoken=${text//\"/}
  espeak-ng -v en-us -s 165 -w "$work/say.wav" "$spoken" < /dev/null
  rate=${audio%%:*}; ch=${audio##*:}
  dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$work/say.wav")
  # One clip shows a face from 1 s to 2.5 s (NASA's public-domain portrait of Eileen Collins, the MTCNN golden
  # image), so that `faces` and `clip.input=faces` find something on the sample; every other frame has none.
  face=(); video='[0:v]null[v]'
  if [[ "$split/$dia/$utt" == "dev/0/0" ]]; then
    face=(-f rawvideo -pix_fmt rgb24 -s 512x512 -i "$here/Tests/Fixtures/mtcnn/astronaut.rgb")
    video="[2:v]scale=170:170,loop=-1:1:0[face];[0:v][face]overlay=x=140:y=5:enable='between(t,1,2.5)':shortest=1[v]"
  fi
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=320x180:rate=24:duration=$dur" -i "$work/say.wav" "${face[@]}" \
    -filter_complex "$video;[1:a]aresample=$rate,pan=${ch}c|$(for ((c=0; c<ch; c++)); do printf 'c%d=c0%s' $c "$([[ $c -lt $((ch-1)) ]] && echo '|')"; done)[a]" \
    -map '[v]' -map '[a]' -c:v libx264 -preset veryfast -crf 38 -pix_fmt yuv420p -c:a aac -b:a 48k -shortest \
    "$dir/dia${dia}_utt${utt}.mp4"
done <<< "$rows"
cp "$work/train.csv" "$out/train_sent_emo.csv"
cp "$work/dev.csv" "$out/dev_sent_emo.csv"
cp "$work/test.csv" "$out/test_sent_emo.csv"
du -sh "$out"
