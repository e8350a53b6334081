from facespeak.data.face_bank import pair_voices_with_persons


def _voice(name, speaker, gender, derived_from=None):
    return {"name": name, "speaker": speaker, "gender": gender, "derived_from": derived_from}


def test_pairing_prefers_intelligible_voices_and_matches_gender():
    voices = {v["name"]: v for v in [
        _voice("mbrola_us2", "mbrola_us2", "male"),      # 55 % WER: left out
        _voice("festival_rab", "rab", "male"),           # 9.7 %
        _voice("flite_rms", "cmu_rms", "male"),          # 6.7 %
        _voice("pico_en_gb", "pico_en_gb", "female"),
        _voice("derived_pico_gb_high", "derived_pico_gb_high", "female", "pico_en_gb"),
    ]}
    persons = {"m1": {"gender": "male", "split": "train"}, "m2": {"gender": "male", "split": "train"},
               "f1": {"gender": "female", "split": "train"}, "f2": {"gender": "female", "split": "train"},
               "f3": {"gender": "female", "split": "train"}, "held": {"gender": "male", "split": "heldout"}}
    views = {"m1": 5, "m2": 3, "f1": 9, "f2": 4, "f3": 1, "held": 50}
    speakers = [v["speaker"] for v in voices.values()]
    pairing = pair_voices_with_persons(voices, speakers, persons, views)
    assert pairing["cmu_rms"] == ["m1"] and pairing["rab"] == ["m2"]  # best voice <- most views
    assert "mbrola_us2" not in pairing
    assert pairing["pico_en_gb"] == ["f1"]  # measured 4 % beats its derived copy (4 + 2)
    assert sorted(pairing["derived_pico_gb_high"]) == ["f2", "f3"]  # extra person -> voice with fewest
    assert all("held" not in ps for ps in pairing.values())


def test_unintelligible_voice_never_teaches_even_with_persons_to_spare():
    voices = {v["name"]: v for v in [
        _voice("mbrola_us2", "mbrola_us2", "male"),      # 55 % WER: above the cap
        _voice("flite_rms", "cmu_rms", "male"),          # 6.7 %
        _voice("festival_rab", "rab", "male"),           # 9.7 %
    ]}
    persons = {f"m{i}": {"gender": "male", "split": "train"} for i in range(4)}
    views = {"m0": 9, "m1": 7, "m2": 5, "m3": 3}
    speakers = [v["speaker"] for v in voices.values()]
    pairing = pair_voices_with_persons(voices, speakers, persons, views)
    assert "mbrola_us2" not in pairing
    assert sorted(p for ps in pairing.values() for p in ps) == ["m0", "m1", "m2", "m3"]
    assert pairing["cmu_rms"] == ["m0", "m2"] and pairing["rab"] == ["m1", "m3"]
    # a looser cap lets it teach the person left over
    loose = pair_voices_with_persons(voices, speakers, persons, views, max_wer=60.0)
    assert loose["mbrola_us2"] == ["m2"]
