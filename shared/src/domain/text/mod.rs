//! The text kernel: the stemming and the word lists that the lexical
//! rerank, the offline coach and the offline scorer share. Pure.

pub mod lists;
pub mod stem;
pub mod vocabulary;

pub use lists::{ListReading, read_list, with_lists_on_lines};
pub use stem::{light_stem, stem};
pub use vocabulary::{
    MONTHS, NUMBER_WORDS, STOP_WORDS, TIME_UNITS, VAGUE, is_month, is_number, is_number_word,
    is_quarter, is_stop_word, is_time_unit, is_vague, looks_like_year,
};
